//! The notices at the bottom of the window, announced to screen readers; a notice may carry
//! an address (monospace, selectable) and a button ("Copy address").

import { useEffect, useState } from "preact/hooks";
import { dismiss, subscribe, type Toast } from "../lib/toast";

/** Renders the current notices. */
export function Toasts() {
  const [items, setItems] = useState<Toast[]>([]);
  useEffect(() => subscribe(setItems), []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} data-testid="toast">
          <span class="toast-text">
            {t.text}
            {t.detail && <code class="toast-detail">{t.detail}</code>}
          </span>
          {t.action && (
            <button type="button" class="btn btn-small" onClick={t.action.run}>
              {t.action.label}
            </button>
          )}
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

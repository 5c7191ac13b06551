//! The notices at the bottom of the window, announced to screen readers.

import { useEffect, useState } from "preact/hooks";
import { dismiss, subscribe, type Toast } from "../lib/toast";

/** Renders the current notices. */
export function Toasts() {
  const [items, setItems] = useState<Toast[]>([]);
  useEffect(() => subscribe(setItems), []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          <span>{t.text}</span>
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

//! A connection's state as a coloured pill ("listening on 127.0.0.1:6379", "access denied for
//! bob@example.com"), "Open login" when the proxy wants the user to sign in, and
//! [`StatusProblem`]: the sentence and fix button of a failing connection.

import { applyFix, openLogin, reconnect } from "../actions";
import { fixLabel, statusProblem, statusText, statusTone } from "../lib/status";
import type { ConnectionStatus } from "../types";

/** The pill, and the login button when it applies. */
export function StatusBadge({ status }: { status: ConnectionStatus }) {
  return (
    <span class="status">
      <span class={`badge badge-${statusTone(status)}`} data-testid="status" title={statusText(status)}>
        <span class="dot" aria-hidden="true" />
        <span class="badge-text">{statusText(status)}</span>
      </span>
      {status.state === "loginRequired" && (
        <button type="button" class="btn btn-small btn-primary" onClick={() => openLogin(status.url)}>
          Open login
        </button>
      )}
    </span>
  );
}

/** What went wrong and the fix, under a failing connection; "Reconnect to apply" when saved
 *  changes wait for live sessions to end. Nothing otherwise. */
export function StatusProblem({
  id,
  status,
  reconnectToApply,
}: {
  id: string;
  status: ConnectionStatus;
  reconnectToApply: boolean;
}) {
  const problem = statusProblem(status);
  const action = status.state === "failing" ? status.action : null;
  if (!problem && !reconnectToApply) return null;
  return (
    <div class="status-problem" role={problem ? "alert" : "status"}>
      {problem && (
        <p class="problem-text" data-testid="problem">
          {problem}
        </p>
      )}
      {action && (
        <button type="button" class="btn btn-small" data-testid="fix" onClick={() => applyFix(id, action)}>
          {fixLabel(action)}
        </button>
      )}
      {reconnectToApply && (
        <p class="problem-text" data-testid="reconnect-to-apply">
          Saved changes apply when you reconnect; live sessions use the old settings.{" "}
          <button type="button" class="btn btn-small btn-primary" onClick={() => reconnect(id)}>
            Reconnect to apply
          </button>
        </p>
      )}
    </div>
  );
}

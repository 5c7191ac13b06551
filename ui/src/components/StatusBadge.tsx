//! A connection's state as a coloured pill ("listening on 127.0.0.1:6379"), plus
//! "Open login" when the proxy wants the user to sign in.

import { openLogin } from "../actions";
import { statusText, statusTone } from "../lib/status";
import type { ConnectionStatus } from "../types";

/** The pill, and the login button when it applies. */
export function StatusBadge({ status }: { status: ConnectionStatus }) {
  return (
    <span class="status">
      <span class={`badge badge-${statusTone(status)}`} data-testid="status" title={statusText(status)}>
        <span class="dot" aria-hidden="true" />
        {statusText(status)}
      </span>
      {status.state === "loginRequired" && (
        <button type="button" class="btn btn-small btn-primary" onClick={() => openLogin(status.url)}>
          Open login
        </button>
      )}
    </span>
  );
}

//! One connection in the list: switch, name and destination, status, copy, menu.

import { copyAddress, duplicate, toggle } from "../actions";
import { navigate } from "../router";
import { isActive, statusAddr } from "../lib/status";
import { routeHash } from "../lib/routes";
import type { ConnectionView } from "../types";
import { RowMenu } from "./RowMenu";
import { StatusBadge, StatusProblem } from "./StatusBadge";
import { CopyIcon } from "./Icon";

/** Props of `ConnectionRow`; delete and export need a dialog, so the list owns them. */
export interface ConnectionRowProps {
  view: ConnectionView;
  onDelete: (v: ConnectionView) => void;
  onExport: (v: ConnectionView) => void;
}

/** A row of the connection list. */
export function ConnectionRow({ view, onDelete, onExport }: ConnectionRowProps) {
  const p = view.profile;
  const on = isActive(view.status);
  const addr = statusAddr(view.status);
  return (
    <li class="row" data-testid="connection-row" data-name={p.name}>
      <button
        type="button"
        role="switch"
        aria-checked={on}
        class={`switch ${view.status.state}`}
        aria-label={`${on ? "Disconnect" : "Connect"} ${p.name}`}
        title={on ? "Disconnect" : "Connect"}
        onClick={() => toggle(view)}
      >
        <span class="knob" aria-hidden="true" />
      </button>
      <div class="row-main">
        <a class="row-name" href={routeHash({ page: "detail", id: p.id })}>
          {p.name}
        </a>
        <span class="row-dest">{p.destination}</span>
        <StatusProblem id={p.id} status={view.status} reconnectToApply={view.reconnectToApply} />
      </div>
      <StatusBadge status={view.status} />
      {addr ? (
        <button
          type="button"
          class="icon-btn"
          aria-label={`Copy address ${addr}`}
          title={`Copy ${addr}`}
          onClick={() => copyAddress(addr)}
        >
          <CopyIcon />
        </button>
      ) : (
        <span class="icon-spacer" aria-hidden="true" />
      )}
      <RowMenu
        label={`More actions for ${p.name}`}
        items={[
          { label: "Edit", run: () => navigate({ page: "edit", id: p.id }) },
          { label: "Duplicate", run: () => duplicate(p.id) },
          { label: "Export", run: () => onExport(view) },
          { label: "Delete", danger: true, run: () => onDelete(view) },
        ]}
      />
    </li>
  );
}

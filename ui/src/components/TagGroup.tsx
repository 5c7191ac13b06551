//! A collapsible folder of the list ("All", a tag, "Untagged") with Connect all / Disconnect all
//! and Export, which act on the rows the search shows, never on hidden ones.

import { setMany } from "../actions";
import { activeText, bulkTargets, type Group } from "../lib/groups";
import type { ConnectionView } from "../types";
import { ConnectionRow } from "./ConnectionRow";

/** Props of `TagGroup`. */
export interface TagGroupProps {
  group: Group;
  collapsed: boolean;
  onToggle: () => void;
  onDelete: (v: ConnectionView) => void;
  onExport: (v: ConnectionView) => void;
  /** Export the folder's shown rows. */
  onExportGroup: (g: Group) => void;
}

/** The folder header and, when open, its rows. */
export function TagGroup({ group, collapsed, onToggle, onDelete, onExport, onExportGroup }: TagGroupProps) {
  const bodyId = `group-${group.key.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const toConnect = bulkTargets(group, true);
  const toDisconnect = bulkTargets(group, false);
  const scope = group.total > group.items.length ? ` the ${group.items.length} shown` : "";
  return (
    <section class="group" aria-label={group.label} data-testid="group" data-group={group.label}>
      <header class="group-head">
        <button type="button" class="group-toggle" aria-expanded={!collapsed} aria-controls={bodyId} onClick={onToggle}>
          <span class="chevron" aria-hidden="true">
            ▸
          </span>
          <span class={group.virtual ? "group-name virtual" : "group-name"}>{group.label}</span>
          <span class="group-count">{activeText(group)}</span>
        </button>
        <div class="group-actions">
          <button
            type="button"
            class="btn btn-small"
            onClick={() => setMany(toConnect, true)}
            disabled={toConnect.length === 0}
            title={`Connect${scope || " all"} in ${group.label}`}
          >
            Connect all
          </button>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => setMany(toDisconnect, false)}
            disabled={toDisconnect.length === 0}
            title={`Disconnect${scope || " all"} in ${group.label}`}
          >
            Disconnect all
          </button>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => onExportGroup(group)}
            disabled={group.items.length === 0}
            title={`Export${scope || " all"} in ${group.label}`}
          >
            Export…
          </button>
        </div>
      </header>
      {!collapsed && (
        <ul class="rows" id={bodyId}>
          {group.items.map((v) => (
            <ConnectionRow key={v.profile.id} view={v} onDelete={onDelete} onExport={onExport} />
          ))}
        </ul>
      )}
    </section>
  );
}

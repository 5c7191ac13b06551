//! A collapsible folder of the list ("All", a tag, "Untagged") with Connect all / Disconnect all.

import { setFolder } from "../actions";
import { activeText, type Group } from "../lib/groups";
import type { ConnectionView } from "../types";
import { ConnectionRow } from "./ConnectionRow";

/** Props of `TagGroup`. */
export interface TagGroupProps {
  group: Group;
  collapsed: boolean;
  onToggle: () => void;
  onDelete: (v: ConnectionView) => void;
  onExport: (v: ConnectionView) => void;
}

/** The folder header and, when open, its rows. */
export function TagGroup({ group, collapsed, onToggle, onDelete, onExport }: TagGroupProps) {
  const bodyId = `group-${group.key.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
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
          <button type="button" class="btn btn-small" onClick={() => setFolder(group.tag, true)}>
            Connect all
          </button>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => setFolder(group.tag, false)}
            disabled={group.active === 0}
          >
            Disconnect all
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

//! Home: the toolbar (search, New, Import, Load from server, Export all) and the folders of connections.
//!
//! One folder is open at a time, "All" at first: All lists every connection once, and opening
//! a tag folder closes All (and the reverse), so no row is ever listed twice while each tag
//! keeps its header with its count and its Connect all / Disconnect all.

import { useMemo, useRef, useState } from "preact/hooks";
import { importFile, remove } from "../actions";
import { groupByTag } from "../lib/groups";
import { navigate } from "../router";
import { useConnections } from "../store";
import type { ConnectionView } from "../types";
import { ConfirmDialog } from "./Dialog";
import { EmptyState } from "./EmptyState";
import { ExportDialog } from "./ExportDialog";
import { TagGroup } from "./TagGroup";

/** The list screen. */
export function ConnectionsPage() {
  const { list, error } = useConnections();
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState<string | null>("all");
  const [deleting, setDeleting] = useState<ConnectionView | null>(null);
  const [exporting, setExporting] = useState<{ ids: string[] | null; name: string | null } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const groups = useMemo(() => groupByTag(list ?? [], query), [list, query]);
  const shown = groups[0]?.items ?? [];
  const filtered = shown.length < (list?.length ?? 0);

  // A folder the search empties is gone: then All is the open one.
  const current = open !== null && !groups.some((g) => g.key === open) ? "all" : open;
  const flip = (key: string) => setOpen(current === key ? null : key);
  const pickFile = () => fileInput.current?.click();
  const onFile = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (file) await importFile(file);
  };

  return (
    <div class="page">
      <div class="toolbar">
        <h1>Connections</h1>
        <div class="toolbar-actions">
          <button type="button" class="btn" onClick={pickFile}>
            Import…
          </button>
          <button type="button" class="btn" onClick={() => navigate({ page: "load" })}>
            Load from server…
          </button>
          <button
            type="button"
            class="btn"
            onClick={() => setExporting(filtered ? { ids: shown.map((v) => v.profile.id), name: null } : { ids: null, name: null })}
            disabled={shown.length === 0}
          >
            {filtered ? `Export ${shown.length} shown…` : "Export all…"}
          </button>
          <button type="button" class="btn btn-primary" onClick={() => navigate({ page: "new" })}>
            New connection
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          accept=".json,application/json"
          class="hidden"
          aria-label="Import file"
          tabIndex={-1}
          onChange={onFile}
        />
      </div>
      {error && (
        <p class="callout callout-danger" role="alert">
          Could not load connections: {error}
        </p>
      )}
      {list && list.length === 0 && <EmptyState onNew={() => navigate({ page: "new" })} onImport={pickFile} />}
      {list && list.length > 0 && (
        <>
          <div class="search">
            <input
              type="search"
              placeholder="Search by name, destination or tag"
              aria-label="Search connections"
              value={query}
              onInput={(e) => setQuery(e.currentTarget.value)}
            />
          </div>
          {groups[0].items.length === 0 ? (
            <p class="muted no-match">No connection matches “{query}”.</p>
          ) : (
            groups.map((g) => (
              <TagGroup
                key={g.key}
                group={g}
                collapsed={current !== g.key}
                onToggle={() => flip(g.key)}
                onDelete={setDeleting}
                onExport={(v) => setExporting({ ids: [v.profile.id], name: v.profile.name })}
                onExportGroup={(grp) =>
                  setExporting({ ids: grp.items.map((v) => v.profile.id), name: grp.virtual ? null : grp.label })
                }
              />
            ))
          )}
        </>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.profile.name}?`}
          message="The connection is disconnected and removed. This cannot be undone."
          confirmLabel="Delete"
          danger
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            const d = deleting;
            setDeleting(null);
            await remove(d.profile.id, d.profile.name);
          }}
        />
      )}
      {exporting && <ExportDialog ids={exporting.ids} name={exporting.name} onClose={() => setExporting(null)} />}
    </div>
  );
}

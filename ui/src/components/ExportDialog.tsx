//! "Export connections": include tags? keep Porthole-only settings? include private keys (with a
//! warning)? → a JSON file.

import { useState } from "preact/hooks";
import { exportToFile } from "../actions";
import { Dialog } from "./Dialog";

/** Props of `ExportDialog`: `ids` null = every connection. */
export interface ExportDialogProps {
  ids: string[] | null;
  name: string | null;
  onClose: () => void;
}

/** The export options and the Export button. */
export function ExportDialog({ ids, name, onClose }: ExportDialogProps) {
  const [includeTags, setTags] = useState(true);
  const [includePrivateKeys, setKeys] = useState(false);
  const [includePortholeFields, setPorthole] = useState(true);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    if (await exportToFile({ ids, name, includeTags, includePrivateKeys, includePortholeFields })) onClose();
    setBusy(false);
  };
  return (
    <Dialog
      title={name ? `Export ${name}` : ids ? `Export ${ids.length} ${ids.length === 1 ? "connection" : "connections"}` : "Export all connections"}
      onClose={onClose}
      actions={
        <>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" class="btn btn-primary" onClick={run} disabled={busy}>
            Export
          </button>
        </>
      }
    >
      <p class="muted">Saves a file in Pomerium Desktop's format, which Porthole and Pomerium Desktop can import.</p>
      <label class="check">
        <input type="checkbox" checked={includeTags} onChange={(e) => setTags(e.currentTarget.checked)} />
        Include tags
      </label>
      <label class="check">
        <input type="checkbox" checked={includePortholeFields} onChange={(e) => setPorthole(e.currentTarget.checked)} />
        Keep Porthole-only settings ("Open with")
      </label>
      {includePortholeFields && (
        <p class="hint">
          Pomerium Desktop refuses a file with these (it rejects fields it does not know); untick to make a file for
          Pomerium Desktop. Connections without such settings are exported the same either way.
        </p>
      )}
      <label class="check">
        <input type="checkbox" checked={includePrivateKeys} onChange={(e) => setKeys(e.currentTarget.checked)} />
        Include private keys
      </label>
      {includePrivateKeys && (
        <p class="callout callout-danger" role="alert">
          The file will contain client-certificate private keys in clear text. Anyone who gets it can use
          your certificates. Share it only over a channel you trust, and delete it after import.
        </p>
      )}
    </Dialog>
  );
}

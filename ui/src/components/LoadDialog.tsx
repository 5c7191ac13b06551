//! "Load from server…": a Pomerium URL (and how to trust it) → the routes portal's preview
//! (new, changed, unchanged, gone, skipped) → Save. Nothing is saved before Save.

import { useState } from "preact/hooks";
import { acceptPortal, loadPortal } from "../actions";
import { fieldLabel, pendingCount, previewSummary } from "../lib/portal";
import type { PortalPreview } from "../types";
import { Dialog } from "./Dialog";
import { Field } from "./Field";

/** Props of `LoadDialog`. */
export interface LoadDialogProps {
  onClose: () => void;
}

/** The dialog: the server form first, then its preview. */
export function LoadDialog({ onClose }: LoadDialogProps) {
  const [url, setUrl] = useState("");
  const [caFile, setCaFile] = useState("");
  const [insecure, setInsecure] = useState(false);
  const [busy, setBusy] = useState(false);
  const [preview, setPreview] = useState<PortalPreview | null>(null);
  const [remove, setRemove] = useState<Set<string>>(new Set());

  const load = async () => {
    setBusy(true);
    const p = await loadPortal({
      pomeriumUrl: url.trim(),
      caFile: caFile.trim() || null,
      disableTlsVerification: insecure,
    });
    setBusy(false);
    if (p) {
      setPreview(p);
      setRemove(new Set());
    }
  };
  const save = async () => {
    if (!preview) return;
    setBusy(true);
    const ok = await acceptPortal(preview.server, [...remove]);
    setBusy(false);
    if (ok) onClose();
  };
  const tick = (id: string, on: boolean) => {
    const next = new Set(remove);
    if (on) next.add(id);
    else next.delete(id);
    setRemove(next);
  };

  if (!preview) {
    return (
      <Dialog
        title="Load from server"
        onClose={onClose}
        actions={
          <>
            <button type="button" class="btn" onClick={onClose}>
              Cancel
            </button>
            <button type="button" class="btn btn-primary" onClick={load} disabled={busy || !url.trim()}>
              {busy ? "Loading…" : "Load"}
            </button>
          </>
        }
      >
        <p class="muted">
          Reads the routes your Pomerium server offers you (logging in if needed) and shows what would change
          before anything is saved.
        </p>
        <Field
          id="portalUrl"
          label="Pomerium URL"
          value={url}
          onInput={setUrl}
          placeholder="https://pomerium.example.com"
          required
          mono
        />
        <Field
          id="portalCaFile"
          label="CA file"
          value={caFile}
          onInput={setCaFile}
          placeholder="/path/to/ca.pem"
          hint="Extra certificate authorities to trust for this server (PEM)."
          mono
        />
        <label class="check">
          <input type="checkbox" checked={insecure} onChange={(e) => setInsecure(e.currentTarget.checked)} />
          Disable TLS verification
        </label>
        {insecure && (
          <p class="callout callout-danger" role="alert">
            Anyone on the network path could pose as this server. The loaded connections keep this setting.
          </p>
        )}
      </Dialog>
    );
  }

  const pending = pendingCount(preview, remove);
  return (
    <Dialog
      title={`Routes of ${preview.server}`}
      onClose={onClose}
      actions={
        <>
          <button type="button" class="btn" onClick={() => setPreview(null)}>
            Back
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" class="btn btn-primary" onClick={save} disabled={busy || pending === 0}>
            Save
          </button>
        </>
      }
    >
      <p class="muted" data-testid="portal-summary">
        {previewSummary(preview)}
        {pending === 0 && " — everything is up to date."}
      </p>
      <div class="portal-preview">
        {preview.new.length > 0 && (
          <section data-testid="portal-new">
            <h3>New</h3>
            <ul class="portal-list">
              {preview.new.map((e) => (
                <li key={e.routeId}>
                  <strong>{e.name}</strong> <span class="mono muted">{e.destination}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
        {preview.changed.length > 0 && (
          <section data-testid="portal-changed">
            <h3>Changed</h3>
            <ul class="portal-list">
              {preview.changed.map((c) => (
                <li key={c.id}>
                  <strong>{c.entry.name}</strong>
                  {c.changes.map((f) => (
                    <div class="muted" key={f.field}>
                      {fieldLabel(f.field)}: <span class="mono">{f.old || "—"}</span> →{" "}
                      <span class="mono">{f.new || "—"}</span>
                    </div>
                  ))}
                </li>
              ))}
            </ul>
          </section>
        )}
        {preview.unchanged.length > 0 && (
          <section data-testid="portal-unchanged">
            <h3>Unchanged</h3>
            <ul class="portal-list">
              {preview.unchanged.map((c) => (
                <li key={c.id}>
                  {c.entry.name} <span class="mono muted">{c.entry.destination}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
        {preview.gone.length > 0 && (
          <section data-testid="portal-gone">
            <h3>No longer listed</h3>
            <ul class="portal-list">
              {preview.gone.map((p) => (
                <li key={p.id}>
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={remove.has(p.id)}
                      onChange={(e) => tick(p.id, e.currentTarget.checked)}
                    />
                    Remove {p.name}
                  </label>
                </li>
              ))}
            </ul>
          </section>
        )}
        {preview.skipped.length > 0 && (
          <section data-testid="portal-skipped">
            <h3>Skipped</h3>
            <ul class="portal-list">
              {preview.skipped.map((s) => (
                <li key={s.from}>
                  {s.name} <span class="muted">— {s.reason}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </Dialog>
  );
}

//! New / Edit connection. Rust validates on save; every field error shows beside its input,
//! the first one is scrolled to and focused, and after a failed save each change is checked
//! again (debounced) so errors clear as soon as their field is valid. The "port in use"
//! warning is about the address in the box now, checked the same way.

import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "../api";
import { toast } from "../lib/toast";
import {
  draftFromForm,
  emptyForm,
  focusFirstError,
  formFromProfile,
  isDirty,
  mapFieldErrors,
  type CertMode,
  type FieldErrors,
  type FormState,
} from "../lib/form";
import { navigate, setLeaveGuard } from "../router";
import { useConnections } from "../store";
import { ConfirmDialog } from "./Dialog";
import { Field } from "./Field";
import { TagInput } from "./TagInput";

const NO_ERRORS: FieldErrors = { byField: {}, general: [] };
/** How long typing must pause before the form is checked again. */
export const CHECK_DEBOUNCE_MS = 300;

/** The error key of a form input (`certFile` → `clientCert.certFile`). */
function errorKey(k: keyof FormState): string {
  if (k === "certMode") return "clientCert";
  return ["certFile", "keyFile", "issuer", "subject"].includes(k) ? `clientCert.${k}` : k;
}

/** The form page; `id` null = a new connection. */
export function ConnectForm({ id }: { id: string | null }) {
  const { list } = useConnections();
  const view = id ? list?.find((c) => c.profile.id === id) : undefined;
  if (id && !list) return <p class="page muted">Loading…</p>;
  if (id && !view) {
    return (
      <div class="page">
        <p class="callout callout-danger">This connection no longer exists.</p>
        <a href="#/">Back to connections</a>
      </div>
    );
  }
  return <FormBody key={id ?? "new"} initial={view ? formFromProfile(view.profile) : emptyForm()} portInUse={!!view?.portInUse} />;
}

function FormBody({ initial, portInUse }: { initial: FormState; portInUse: boolean }) {
  const [f, setF] = useState(initial);
  const [errors, setErrors] = useState(NO_ERRORS);
  const [saving, setSaving] = useState(false);
  const [leaving, setLeaving] = useState<(() => void) | null>(null);
  /** Bumped after a failed save: focus the first problem once it is rendered. */
  const [focusAsk, setFocusAsk] = useState(0);
  /** A save was tried: from then on the live check replaces the shown errors. */
  const tried = useRef(false);
  const [port, setPort] = useState({ addr: initial.listenAddr.trim(), inUse: portInUse });
  const formRef = useRef<HTMLFormElement>(null);
  const dirty = useRef(false);
  dirty.current = isDirty(initial, f);

  useEffect(() => {
    if (focusAsk > 0 && formRef.current) focusFirstError(formRef.current);
  }, [focusAsk]);

  // Re-check the current values once typing pauses; answers for older values are dropped.
  const checkSeq = useRef(0);
  const edited = useRef(new Set<keyof FormState>());
  useEffect(() => {
    const seq = ++checkSeq.current;
    const addr = f.listenAddr.trim();
    const timer = setTimeout(async () => {
      try {
        const check = await api.checkConnection(draftFromForm(f));
        if (seq !== checkSeq.current) return;
        setPort({ addr, inUse: check.portInUse });
        if (tried.current) setErrors(mapFieldErrors(check.fields));
      } catch {
        // No live check (an older backend): at least drop the errors of what was edited since.
        if (seq !== checkSeq.current) return;
        const gone = [...edited.current].map(errorKey);
        setErrors((prev) => ({
          ...prev,
          byField: Object.fromEntries(Object.entries(prev.byField).filter(([k]) => !gone.includes(k))),
        }));
      }
      edited.current.clear();
    }, CHECK_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [f]);

  useEffect(() => {
    setLeaveGuard((proceed) => {
      if (!dirty.current) return false;
      setLeaving(() => proceed);
      return true;
    });
    return () => setLeaveGuard(null);
  }, []);

  const set =
    <K extends keyof FormState>(k: K) =>
    (v: FormState[K]) => {
      setF((prev) => ({ ...prev, [k]: v }));
      edited.current.add(k);
      setErrors((prev) => (prev.general.length ? { ...prev, general: [] } : prev));
    };
  const err = errors.byField;
  const back = () => navigate(initial.id ? { page: "detail", id: initial.id } : { page: "list" });

  const save = async (e: Event) => {
    e.preventDefault();
    setSaving(true);
    try {
      const p = await api.saveConnection(draftFromForm(f));
      setErrors(NO_ERRORS);
      setLeaveGuard(null);
      toast(`Saved ${p.name}`);
      navigate({ page: "detail", id: p.id });
    } catch (raw) {
      const e2 = api.toApiError(raw);
      const mapped = mapFieldErrors(e2.fields);
      if (e2.fields.length === 0) mapped.general.push(e2.message);
      tried.current = true;
      setErrors(mapped);
      setFocusAsk((n) => n + 1);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form class="page form" onSubmit={save} noValidate ref={formRef}>
      <div class="toolbar">
        <button type="button" class="btn btn-ghost" onClick={back}>
          ← Back
        </button>
        <h1>{initial.id ? `Edit ${initial.name}` : "New connection"}</h1>
      </div>

      {errors.general.length > 0 && (
        <div class="callout callout-danger form-errors" role="alert" tabIndex={-1}>
          {errors.general.map((m) => (
            <p key={m}>{m}</p>
          ))}
        </div>
      )}

      <fieldset class="card">
        <legend>Connection</legend>
        <Field id="name" label="Name" required value={f.name} onInput={set("name")} placeholder="Redis prod" error={err.name} />
        <Field
          id="destination"
          label="Destination"
          required
          mono
          value={f.destination}
          onInput={set("destination")}
          placeholder="redis.internal:6379"
          error={err.destination}
          hint={
            <>
              <code>host:port</code> of the service, or <code>tcp+https://proxy.example.com/host:port</code> to name
              the proxy too.
            </>
          }
        />
        <Field
          id="listenAddr"
          label="Local address"
          mono
          value={f.listenAddr}
          onInput={set("listenAddr")}
          placeholder="127.0.0.1:6379"
          error={err.listenAddr}
          hint="Leave blank for a random free port on 127.0.0.1. Fix one so your tools can remember it."
        />
        {port.inUse && port.addr !== "" && port.addr === f.listenAddr.trim() && (
          <p class="callout callout-warn" role="status" data-testid="port-in-use">
            Another program is using {port.addr} now. Connecting will fail until it is free, or pick another
            port.
          </p>
        )}
        <Field
          id="pomeriumUrl"
          label="Pomerium / bastion URL"
          mono
          value={f.pomeriumUrl}
          onInput={set("pomeriumUrl")}
          placeholder="https://proxy.example.com"
          error={err.pomeriumUrl}
          hint="Optional: the proxy to dial for the TLS connection, when it is not the destination's host."
        />
        <div class="field" role="radiogroup" aria-labelledby="protocol-label">
          <span class="label" id="protocol-label">
            Protocol
          </span>
          <div class="segmented">
            <label class="check">
              <input type="radio" name="protocol" checked={f.protocol === "tcp"} onChange={() => set("protocol")("tcp")} />
              TCP
            </label>
            <label class="check">
              <input type="radio" name="protocol" checked={f.protocol === "udp"} onChange={() => set("protocol")("udp")} />
              UDP
            </label>
          </div>
          {err.protocol && (
            <p class="field-error" tabIndex={-1}>
              {err.protocol}
            </p>
          )}
        </div>
        <TagInput id="tags" tags={f.tags} onChange={set("tags")} error={err.tags} />
        <label class="check">
          <input type="checkbox" checked={f.autostart} onChange={(e) => set("autostart")(e.currentTarget.checked)} />
          Start this connection when Porthole starts
        </label>
        <Field
          id="openWith"
          label="Open with"
          mono
          value={f.openWith}
          onInput={set("openWith")}
          placeholder="ssh -p {port} {host}"
          error={err.openWith}
          hint={
            <>
              A command for this service; <code>{"{host}"}</code> and <code>{"{port}"}</code> become the local
              address. E.g. <code>{"ssh -p {port} {host}"}</code>, <code>{"psql -h {host} -p {port}"}</code>.
            </>
          }
        />
      </fieldset>

      <fieldset class="card">
        <legend>TLS</legend>
        <Field
          id="caFile"
          label="CA certificate file"
          mono
          value={f.caFile}
          onInput={set("caFile")}
          placeholder="/etc/ssl/my-company-ca.pem"
          error={err.caFile}
          hint="Optional: a PEM file of the CA that signed the proxy's certificate, if it is not a public one."
        />
        <div class={f.disableTlsVerification ? "danger-zone on" : "danger-zone"}>
          <label class="check">
            <input
              type="checkbox"
              checked={f.disableTlsVerification}
              onChange={(e) => set("disableTlsVerification")(e.currentTarget.checked)}
            />
            Disable TLS verification
          </label>
          <p class="danger-text" role={f.disableTlsVerification ? "alert" : undefined}>
            ⚠ Dangerous: Porthole will not check who the proxy is. Anyone on the network path can read your
            traffic and steal your login. Use only for a test proxy; prefer a CA file.
          </p>
          {err.disableTlsVerification && (
            <p class="field-error" tabIndex={-1}>
              {err.disableTlsVerification}
            </p>
          )}
        </div>
      </fieldset>

      <fieldset class="card">
        <legend>Client certificate</legend>
        <div class="segmented" role="radiogroup" aria-label="Client certificate">
          {(
            [
              ["none", "None"],
              ["files", "PEM files"],
              ["store", "OS certificate store"],
            ] as [CertMode, string][]
          ).map(([mode, label]) => (
            <label class="check" key={mode}>
              <input type="radio" name="certMode" checked={f.certMode === mode} onChange={() => set("certMode")(mode)} />
              {label}
            </label>
          ))}
        </div>
        {err.clientCert && (
          <p class="field-error" tabIndex={-1}>
            {err.clientCert}
          </p>
        )}
        {f.certMode === "files" && (
          <>
            <Field
              id="certFile"
              label="Certificate file"
              mono
              value={f.certFile}
              onInput={set("certFile")}
              placeholder="/home/me/certs/me.crt"
              error={err["clientCert.certFile"]}
            />
            <Field
              id="keyFile"
              label="Private key file"
              mono
              value={f.keyFile}
              onInput={set("keyFile")}
              placeholder={f.hasKey ? "stored in your keychain — leave blank to keep it" : "/home/me/certs/me.key"}
              error={err["clientCert.keyFile"]}
              hint="The key is moved to your keychain when you save; Porthole does not read the file again."
            />
          </>
        )}
        {f.certMode === "store" && (
          <>
            <Field
              id="issuer"
              label="Issuer filter"
              mono
              value={f.issuer}
              onInput={set("issuer")}
              placeholder="CN=My Company CA"
              error={err["clientCert.issuer"]}
              hint="attr=value, matched exactly. attr is one of CN, O, OU, C, ST, L."
            />
            <Field
              id="subject"
              label="Subject filter"
              mono
              value={f.subject}
              onInput={set("subject")}
              placeholder="O=My Company"
              error={err["clientCert.subject"]}
              hint="attr=value, matched exactly. Leave both blank to let the OS offer any certificate."
            />
          </>
        )}
      </fieldset>

      <div class="form-actions">
        <button type="button" class="btn" onClick={back}>
          Cancel
        </button>
        <button type="submit" class="btn btn-primary" disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
      </div>

      {leaving && (
        <ConfirmDialog
          title="Discard changes?"
          message="You have unsaved changes to this connection."
          confirmLabel="Discard"
          danger
          onCancel={() => setLeaving(null)}
          onConfirm={() => {
            const go = leaving;
            setLeaving(null);
            go();
          }}
        />
      )}
    </form>
  );
}

//! One connection: its settings, Connect/Disconnect, how to use it, sessions and log.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { applyFix, copyAddress, copyCommand, remove, signOut, toggle } from "../actions";
import { isActive, openWithCommand, statusAddr } from "../lib/status";
import { navigate } from "../router";
import { useConnections } from "../store";
import type { Profile } from "../types";
import { ConfirmDialog } from "./Dialog";
import { EventLog } from "./EventLog";
import { ExportDialog } from "./ExportDialog";
import { SessionsTable } from "./SessionsTable";
import { StatusBadge, StatusProblem } from "./StatusBadge";

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

function certText(p: Profile): string {
  const c = p.clientCert;
  if (!c) return "None";
  if (c.kind === "files") return `${c.certFile}${c.hasKey ? " (key in keychain)" : " (no key)"}`;
  return `OS store — issuer ${c.issuer ?? "any"}, subject ${c.subject ?? "any"}`;
}

/** The user signed in at `origin` (from the stored token), reloaded when `key` changes. */
function useSignedInUser(origin: string | null, key: string): [string | null, (u: string | null) => void] {
  const [user, setUser] = useState<string | null>(null);
  useEffect(() => {
    if (!origin) return;
    api.signedIn().then(
      (all) => setUser(all.find((s) => s.origin === origin)?.user ?? null),
      () => setUser(null),
    );
  }, [origin, key]);
  return [user, setUser];
}

/** The detail page. */
export function ConnectionDetail({ id }: { id: string }) {
  const { list } = useConnections();
  const [confirm, setConfirm] = useState(false);
  const [exporting, setExporting] = useState(false);
  const view = list?.find((c) => c.profile.id === id);
  const [user, setUser] = useSignedInUser(view?.proxyOrigin ?? null, JSON.stringify(view?.status));
  if (!list) return <p class="page muted">Loading…</p>;
  if (!view) {
    return (
      <div class="page">
        <p class="callout">This connection no longer exists.</p>
        <a href="#/">Back to connections</a>
      </div>
    );
  }
  const p = view.profile;
  const on = isActive(view.status);
  const addr = statusAddr(view.status);
  const cmd = p.openWith && addr ? openWithCommand(p.openWith, addr) : null;

  return (
    <div class="page">
      <div class="toolbar">
        <button type="button" class="btn btn-ghost" onClick={() => navigate({ page: "list" })}>
          ← Connections
        </button>
        <h1>{p.name}</h1>
        <StatusBadge status={view.status} />
        <div class="toolbar-actions">
          <button type="button" class="btn" onClick={() => navigate({ page: "edit", id })}>
            Edit
          </button>
          <button type="button" class="btn" onClick={() => setExporting(true)}>
            Export…
          </button>
          <button type="button" class="btn btn-danger-ghost" onClick={() => setConfirm(true)}>
            Delete
          </button>
          <button type="button" class={on ? "btn" : "btn btn-primary"} onClick={() => toggle(view)}>
            {on ? "Disconnect" : "Connect"}
          </button>
        </div>
      </div>

      <StatusProblem id={id} status={view.status} reconnectToApply={view.reconnectToApply} />

      {addr && (
        <section class="card use" aria-label="Use it">
          <div>
            <span class="label">Local address</span>
            <code class="big">{addr}</code>
            <button type="button" class="btn btn-small" onClick={() => copyAddress(addr)}>
              Copy
            </button>
          </div>
          {cmd && (
            <div>
              <span class="label">Open with</span>
              <code class="big">{cmd}</code>
              <button type="button" class="btn btn-small" onClick={() => copyCommand(cmd)}>
                Copy command
              </button>
            </div>
          )}
        </section>
      )}

      <div class="columns">
        <section class="card" aria-labelledby="settings-title">
          <h2 id="settings-title">Settings</h2>
          <dl class="summary">
            <Row label="Destination">
              <code>{p.destination}</code>
            </Row>
            <Row label="Local address">{p.listenAddr ? <code>{p.listenAddr}</code> : "random loopback port"}</Row>
            <Row label="Proxy URL">{p.pomeriumUrl ? <code>{p.pomeriumUrl}</code> : "from the destination"}</Row>
            <Row label="Protocol">{p.protocol.toUpperCase()}</Row>
            <Row label="Tags">
              {p.tags.length ? p.tags.map((t) => <span class="chip static" key={t}>{t}</span>) : "none"}
            </Row>
            <Row label="TLS">
              {p.disableTlsVerification ? (
                <span class="danger-text">verification disabled</span>
              ) : p.caFile ? (
                <>
                  verified with <code>{p.caFile}</code>
                </>
              ) : (
                "verified (system CAs)"
              )}
            </Row>
            <Row label="Client certificate">{certText(p)}</Row>
            {view.proxyOrigin && (
              <Row label="Signed in as">
                <span data-testid="signed-in-as">{user ?? "not signed in"}</span>{" "}
                {user && (
                  <>
                    <button type="button" class="btn btn-small" onClick={() => applyFix(id, "logInAsSomeoneElse")}>
                      Log in as someone else…
                    </button>{" "}
                    <button
                      type="button"
                      class="btn btn-small"
                      data-testid="sign-out"
                      onClick={async () => {
                        if (view.proxyOrigin && (await signOut(view.proxyOrigin))) setUser(null);
                      }}
                    >
                      Sign out
                    </button>
                  </>
                )}
              </Row>
            )}
            <Row label="Start at launch">{p.autostart ? "yes" : "no"}</Row>
            {p.openWith && (
              <Row label="Open with">
                <code>{p.openWith}</code>
              </Row>
            )}
            {p.source && <Row label="Source">{p.source}</Row>}
          </dl>
        </section>
        <SessionsTable id={id} live={on} statusKey={JSON.stringify(view.status)} />
      </div>
      <EventLog id={id} name={p.name} />

      {confirm && (
        <ConfirmDialog
          title={`Delete ${p.name}?`}
          message="The connection is disconnected and removed. This cannot be undone."
          confirmLabel="Delete"
          danger
          onCancel={() => setConfirm(false)}
          onConfirm={async () => {
            setConfirm(false);
            if (await remove(id, p.name)) navigate({ page: "list" });
          }}
        />
      )}
      {exporting && <ExportDialog ids={[id]} name={p.name} onClose={() => setExporting(false)} />}
    </div>
  );
}

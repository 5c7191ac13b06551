//! What the user's clicks do: an API call, then a notice saying how it went.
//!
//! Components call these so that none of them strings API calls and toasts together itself.

import * as api from "./api";
import { navigate } from "./router";
import { downloadText, copyText } from "./lib/download";
import { exportFileName, importSummary } from "./lib/format";
import { portalReportText } from "./lib/portal";
import { fixField, isActive } from "./lib/status";
import { toast } from "./lib/toast";
import { eventPosition, patchFromCommand } from "./store";
import type { ConnectionView, Fix, PortalPreview, PortalSource } from "./types";

function fail(e: unknown): void {
  toast(api.toApiError(e).message, "error");
}

/** Connects an idle connection, disconnects an active one. */
export async function toggle(c: ConnectionView): Promise<void> {
  const id = c.profile.id;
  const since = eventPosition();
  try {
    if (isActive(c.status)) {
      await api.disconnect(id);
      patchFromCommand(id, { state: "idle" }, since);
    } else {
      patchFromCommand(id, await api.connect(id), since);
    }
  } catch (e) {
    fail(e);
  }
}

/** Restarts a connection with its saved settings ("Reconnect to apply", "Reconnect"). */
export async function reconnect(id: string): Promise<void> {
  try {
    await api.reconnect(id);
  } catch (e) {
    fail(e);
  }
}

/** Does what a failing connection's fix button says: opens the form at the field to fix,
 *  logs in (as someone else), or reconnects. */
export async function applyFix(id: string, fix: Fix): Promise<void> {
  const field = fixField(fix);
  if (field) {
    navigate({ page: "edit", id });
    focusWhenShown(field);
    return;
  }
  try {
    if (fix === "retry") await api.reconnect(id);
    else {
      await api.logIn(id, fix === "logInAsSomeoneElse");
      toast("Logged in");
    }
  } catch (e) {
    fail(e);
  }
}

/** Forgets the token of the proxy at `origin` (its connections log in again on next use);
 *  true when it did. */
export async function signOut(origin: string): Promise<boolean> {
  try {
    await api.signOut(origin);
    toast(`Signed out of ${origin}`);
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

/** Scrolls to and focuses the element `id` once the page that holds it has rendered. */
function focusWhenShown(id: string, tries = 20): void {
  const el = document.getElementById(id);
  if (el) {
    el.scrollIntoView({ block: "center" });
    el.focus();
  } else if (tries > 0) requestAnimationFrame(() => focusWhenShown(id, tries - 1));
}

/** Copies a local address and says so. */
export async function copyAddress(addr: string): Promise<void> {
  if (await copyText(addr)) toast(`Copied ${addr}`);
  else toast(`Could not copy ${addr}`, "error");
}

/** Copies a command line and says so. */
export async function copyCommand(cmd: string): Promise<void> {
  if (await copyText(cmd)) toast("Copied command");
  else toast("Could not copy the command", "error");
}

/**
 * Opens the proxy's login page the way automatic logins do; when no browser opens, a notice
 * shows the address with a Copy button, so the click is never silent.
 */
export async function openLogin(url: string): Promise<void> {
  try {
    await api.openUrl(url);
  } catch (e) {
    toast(api.toApiError(e).message, "error", {
      detail: url,
      action: { label: "Copy address", run: () => void copyAddress(url) },
    });
  }
}

/** Duplicates a connection and opens the copy's form. */
export async function duplicate(id: string): Promise<void> {
  try {
    const p = await api.duplicateConnection(id);
    toast(`Created ${p.name}`);
    navigate({ page: "edit", id: p.id });
  } catch (e) {
    fail(e);
  }
}

/** Deletes a connection (the caller has already asked). */
export async function remove(id: string, name: string): Promise<boolean> {
  try {
    await api.deleteConnection(id);
    toast(`Deleted ${name}`);
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

/**
 * Connects (`on`) or disconnects exactly the connections `ids` (a folder's shown rows, never
 * the ones a search hides); one notice names those that failed.
 */
export async function setMany(ids: string[], on: boolean): Promise<void> {
  const since = eventPosition();
  const results = await Promise.allSettled(
    ids.map(async (id) => {
      if (on) {
        patchFromCommand(id, await api.connect(id), since);
      } else {
        await api.disconnect(id);
        patchFromCommand(id, { state: "idle" }, since);
      }
    }),
  );
  const failed = results.flatMap((r) => (r.status === "rejected" ? [api.toApiError(r.reason).message] : []));
  if (failed.length === 1) toast(failed[0], "error");
  else if (failed.length > 1) toast(`${failed.length} connections failed. First: ${failed[0]}`, "error");
}

/** Imports a Pomerium Desktop (or Porthole) export file. */
export async function importFile(file: File): Promise<void> {
  try {
    toast(importSummary(await api.importConnections(await file.text())));
  } catch (e) {
    fail(e);
  }
}

/**
 * Saves text the user asked for: through the app's native save dialog, or as a browser download
 * where there is no such command (the UI served outside the app).
 */
export async function saveText(file: string, text: string, done: string): Promise<void> {
  let saved: string | null;
  try {
    saved = await api.saveExport(text, file);
  } catch {
    downloadText(file, text);
    toast(done);
    return;
  }
  if (saved) toast(`${done} to ${saved}`);
}

/** Exports some (or all) connections to a JSON file. */
export async function exportToFile(opts: {
  ids: string[] | null;
  name: string | null;
  includeTags: boolean;
  includePrivateKeys: boolean;
  includePortholeFields: boolean;
}): Promise<boolean> {
  try {
    const json = await api.exportConnections({
      ids: opts.ids,
      includeTags: opts.includeTags,
      includePrivateKeys: opts.includePrivateKeys,
      includePortholeFields: opts.includePortholeFields,
    });
    const file = exportFileName(opts.name);
    await saveText(file, json, `Exported ${file}`);
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

/** Loads a server's routes portal preview; `null` (and a notice) when it fails. */
export async function loadPortal(source: PortalSource): Promise<PortalPreview | null> {
  try {
    return await api.loadPortal(source);
  } catch (e) {
    fail(e);
    return null;
  }
}

/** Saves a loaded preview and says what it did. */
export async function acceptPortal(server: string, remove: string[]): Promise<boolean> {
  try {
    toast(portalReportText(server, await api.acceptPortal(server, remove)));
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}

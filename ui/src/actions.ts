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

/** Opens the proxy's login page in the system browser. */
export async function openLogin(url: string): Promise<void> {
  try {
    await api.openUrl(url);
  } catch (e) {
    fail(e);
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

/** Connects or disconnects a whole folder (`null` = all, `""` = untagged). */
export async function setFolder(tag: string | null, on: boolean): Promise<void> {
  try {
    await (on ? api.connectTag(tag) : api.disconnectTag(tag));
  } catch (e) {
    fail(e);
  }
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
}): Promise<boolean> {
  try {
    const json = await api.exportConnections({
      ids: opts.ids,
      includeTags: opts.includeTags,
      includePrivateKeys: opts.includePrivateKeys,
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

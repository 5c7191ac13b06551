//! The typed API: every Tauri command and event of `docs/desktop-api.md`, and nothing else.
//!
//! Components call these functions; none of them calls `invoke` or `listen` directly. Every
//! rejection becomes an `ApiError` carrying the contract's `AppError` fields.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AppError,
  ConnectionStatus,
  ConnectionView,
  DraftCheck,
  FieldError,
  ImportReport,
  LogEntry,
  LogEvent,
  PortalPreview,
  PortalReport,
  PortalSource,
  Profile,
  ProfileDraft,
  Session,
  Settings,
  SignedIn,
  StatusEvent,
} from "./types";

/** What a failure is about: Rust's `ErrorCode`, or `unknown` for anything that is not an AppError. */
export type ApiErrorCode = AppError["code"] | "unknown";

/** A command failure, with the `code` to branch on and the per-field problems. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly fields: FieldError[];

  constructor(err: { code: ApiErrorCode; message: string; fields: FieldError[] }) {
    super(err.message);
    this.name = "ApiError";
    this.code = err.code;
    this.fields = err.fields;
  }
}

/** Turns whatever a command rejected with into an `ApiError`. */
export function toApiError(raw: unknown): ApiError {
  if (raw instanceof ApiError) return raw;
  if (raw && typeof raw === "object" && "message" in raw) {
    const o = raw as Partial<AppError>;
    return new ApiError({
      code: typeof o.code === "string" ? (o.code as ApiErrorCode) : "unknown",
      message: String(o.message),
      fields: Array.isArray(o.fields) ? o.fields : [],
    });
  }
  return new ApiError({ code: "unknown", message: String(raw), fields: [] });
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** All saved connections with their live status, sorted by name. */
export const listConnections = () => call<ConnectionView[]>("list_connections");
/** Creates or updates a profile; rejects with code `invalid` and `fields`. */
export const saveConnection = (draft: ProfileDraft) => call<Profile>("save_connection", { draft });
/** What saving `draft` would reject, and whether its local address is taken now; saves nothing. */
export const checkConnection = (draft: ProfileDraft) => call<DraftCheck>("check_connection", { draft });
/** Quits the app, dropping every tunnel (ask first: see `onQuitRequested`). */
export const quit = () => call<void>("quit");
/** Deletes a profile, disconnecting it first. */
export const deleteConnection = (id: string) => call<void>("delete_connection", { id });
/** Copies a profile under the name "<name> (copy)". */
export const duplicateConnection = (id: string) => call<Profile>("duplicate_connection", { id });
/** Starts listening; resolves with the new status. */
export const connect = (id: string) => call<ConnectionStatus>("connect", { id });
/** Closes the listener and every live session. */
export const disconnect = (id: string) => call<void>("disconnect", { id });
/** Restarts a running connection with its saved settings (on the same local address). */
export const reconnect = (id: string) => call<void>("reconnect", { id });
/** Logs in to a connection's proxy; `switchAccount` forgets the token and asks the IdP to let
 *  the user pick another account. */
export const logIn = (id: string, switchAccount: boolean) => call<void>("log_in", { id, switchAccount });
/** Connects every profile with a tag (`null` = all, `""` = untagged). */
export const connectTag = (tag: string | null) => call<void>("connect_tag", { tag });
/** Disconnects every profile with a tag (`null` = all, `""` = untagged). */
export const disconnectTag = (tag: string | null) => call<void>("disconnect_tag", { tag });
/** Live sessions of one connection. */
export const sessions = (id: string) => call<Session[]>("sessions", { id });
/** Closes one live session. */
export const closeSession = (id: string, sessionId: number) =>
  call<void>("close_session", { id, sessionId });
/** The connection's event log, oldest first. */
export const logs = (id: string) => call<LogEntry[]>("logs", { id });
/** Imports a Pomerium Desktop export (de-duplicated). */
export const importConnections = (json: string) => call<ImportReport>("import_connections", { json });
/**
 * Exports profiles (`ids: null` = all) as Pomerium Desktop JSON; `includePortholeFields` keeps
 * "Open with" and the like in a `porthole` object per record (which Pomerium Desktop refuses).
 */
export const exportConnections = (opts: {
  ids: string[] | null;
  includeTags: boolean;
  includePrivateKeys: boolean;
  includePortholeFields: boolean;
}) => call<string>("export_connections", opts);
/** Asks where to save `contents` (native dialog) and writes it; `null` when cancelled. */
export const saveExport = (contents: string, fileName: string) =>
  call<string | null>("save_export", { contents, fileName });
/** Proxy origins with a stored token. */
export const signedIn = () => call<SignedIn[]>("signed_in");
/** Forgets the token of one proxy origin. */
export const signOut = (origin: string) => call<void>("sign_out", { origin });
/** App preferences. */
export const getSettings = () => call<Settings>("get_settings");
/** Saves app preferences and returns them as stored. */
export const setSettings = (settings: Settings) => call<Settings>("set_settings", { settings });
/** Opens a URL as logins do (`PORTHOLE_BROWSER_CMD`, else the system browser). */
export const openUrl = (url: string) => call<void>("open_url", { url });
/** Reads a server's routes portal (logging in if needed) and previews the changes; saves nothing. */
export const loadPortal = (source: PortalSource) => call<PortalPreview>("load_portal", { source });
/** Saves the last preview of `server`, removing the ticked gone connections. */
export const acceptPortal = (server: string, remove: string[]) =>
  call<PortalReport>("accept_portal", { server, remove });

/** Calls `cb` on every status change of any connection. */
export const onStatus = (cb: (e: StatusEvent) => void): Promise<UnlistenFn> =>
  listen<StatusEvent>("status", (e) => cb(e.payload));
/** Calls `cb` on every new log entry of any connection. */
export const onLog = (cb: (e: LogEvent) => void): Promise<UnlistenFn> =>
  listen<LogEvent>("log", (e) => cb(e.payload));
/** Calls `cb` after any save, delete or import. */
export const onConnectionsChanged = (cb: () => void): Promise<UnlistenFn> =>
  listen<null>("connections-changed", () => cb());
/** Calls `cb` when closing the window would drop live tunnels (Rust held the close). */
export const onQuitRequested = (cb: () => void): Promise<UnlistenFn> => listen<null>("quit-requested", () => cb());

//! The UI's one import point for the types of `docs/desktop-api.md`.
//!
//! These mirror the Rust types by hand until ts-rs writes `ui/src/bindings/`. Then this file
//! becomes `export type { … } from "./bindings/…"` and nothing else in the UI changes.

/** Transport of a tunnel. UDP is in the contract but not offered by the form yet. */
export type Protocol = "tcp" | "udp";

/** A saved client certificate; the private key itself lives in the OS keychain. */
export type ClientCert =
  | { kind: "files"; certFile: string; hasKey: boolean }
  | { kind: "store"; issuer: string | null; subject: string | null };

/** A saved connection, as Rust stores it. */
export interface Profile {
  id: string;
  name: string;
  destination: string;
  /** `null` = a random loopback port. */
  listenAddr: string | null;
  pomeriumUrl: string | null;
  protocol: Protocol;
  tags: string[];
  caFile: string | null;
  disableTlsVerification: boolean;
  clientCert: ClientCert | null;
  autostart: boolean;
  /** A command template with `{host}` and `{port}`, e.g. `ssh -p {port} {host}`. */
  openWith: string | null;
  /** Where an imported profile came from, e.g. `portal-route-<id>`. */
  source: string | null;
}

/** The client certificate as the form sends it; `keyFile` is read once at save. */
export type ClientCertDraft =
  | { kind: "files"; certFile: string; keyFile: string | null }
  | { kind: "store"; issuer: string | null; subject: string | null };

/** What the form sends to `save_connection`; `id: null` creates a new profile. */
export interface ProfileDraft {
  id: string | null;
  name: string;
  destination: string;
  listenAddr: string | null;
  pomeriumUrl: string | null;
  protocol: Protocol;
  tags: string[];
  caFile: string | null;
  disableTlsVerification: boolean;
  clientCert: ClientCertDraft | null;
  autostart: boolean;
  openWith: string | null;
}

/** Live state of one connection's tunnel. */
export type ConnectionStatus =
  | { state: "idle" }
  | { state: "listening"; addr: string }
  | { state: "connecting"; addr: string }
  | { state: "loginRequired"; addr: string; url: string }
  | { state: "connected"; addr: string; sessions: number }
  | { state: "error"; message: string; code: string };

/** One row of `list_connections`. */
export interface ConnectionView {
  profile: Profile;
  status: ConnectionStatus;
  /** The profile's fixed local address is taken by another program. */
  portInUse: boolean;
}

/** One live local connection through a tunnel. */
export interface Session {
  id: number;
  peer: string;
  sinceMs: number;
  bytesUp: number;
  bytesDown: number;
}

/** One line of a connection's event log. */
export interface LogEntry {
  tsMs: number;
  level: "info" | "error";
  message: string;
  peer: string | null;
}

/** App-wide preferences. */
export interface Settings {
  theme: "system" | "light" | "dark";
  launchAtLogin: boolean;
}

/** What `import_connections` did. */
export interface ImportReport {
  added: number;
  updated: number;
  unchanged: number;
}

/** A problem with one field of a draft. */
export interface FieldError {
  field: string;
  message: string;
}

/** The error every command rejects with. */
export interface AppError {
  code: string;
  message: string;
  fields: FieldError[];
}

/** Payload of the `status` event. */
export interface StatusEvent {
  id: string;
  status: ConnectionStatus;
}

/** Payload of the `log` event. */
export interface LogEvent {
  id: string;
  entry: LogEntry;
}

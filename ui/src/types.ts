//! The UI's one import point for the types of `docs/desktop-api.md`: generated from the Rust
//! types by ts-rs into `./bindings/` (regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p porthole-client --test bindings`; never edit them by hand).

export type { AppError } from "./bindings/AppError";
export type { ClientCert } from "./bindings/ClientCert";
export type { ClientCertDraft } from "./bindings/ClientCertDraft";
export type { ConnectionStatus } from "./bindings/ConnectionStatus";
export type { ConnectionView } from "./bindings/ConnectionView";
export type { ErrorCode } from "./bindings/ErrorCode";
export type { FieldError } from "./bindings/FieldError";
export type { ImportReport } from "./bindings/ImportReport";
export type { LogEntry } from "./bindings/LogEntry";
export type { LogEvent } from "./bindings/LogEvent";
export type { LogLevel } from "./bindings/LogLevel";
export type { Profile } from "./bindings/Profile";
export type { ProfileDraft } from "./bindings/ProfileDraft";
export type { Protocol } from "./bindings/Protocol";
export type { Session } from "./bindings/Session";
export type { Settings } from "./bindings/Settings";
export type { StatusEvent } from "./bindings/StatusEvent";
export type { Theme } from "./bindings/Theme";
export type { FieldChange } from "./bindings/FieldChange";
export type { PortalEntry } from "./bindings/PortalEntry";
export type { PortalPreview } from "./bindings/PortalPreview";
export type { PortalReport } from "./bindings/PortalReport";
export type { PortalSource } from "./bindings/PortalSource";
export type { SavedEntry } from "./bindings/SavedEntry";
export type { SkippedRoute } from "./bindings/SkippedRoute";
export type { Cause } from "./bindings/Cause";
export type { CertProblem } from "./bindings/CertProblem";
export type { Fix } from "./bindings/Fix";
export type { LoginProblem } from "./bindings/LoginProblem";

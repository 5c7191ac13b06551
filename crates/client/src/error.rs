//! [`AppError`]: the one error every command returns, `{ code, message, fields }`, so the UI
//! matches on a code and shows a sentence, never parses one.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::FieldError;

/// The class of an [`AppError`]: what the UI can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is wrong; `fields` says where.
    Invalid,
    /// No such profile or session.
    NotFound,
    /// The listen address is taken by another program.
    PortInUse,
    /// A file could not be read or written.
    Io,
    /// The keychain failed.
    Keychain,
    /// The import data could not be read.
    Import,
    /// The tunnel could not be built or started.
    Tunnel,
}

impl ErrorCode {
    /// The code as it appears in JSON (`port_in_use`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::PortInUse => "port_in_use",
            Self::Io => "io",
            Self::Keychain => "keychain",
            Self::Import => "import",
            Self::Tunnel => "tunnel",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a command failed: a code, a sentence a person can act on, and for `invalid` every
/// field that is wrong. Never carries a token or a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct AppError {
    /// The class.
    pub code: ErrorCode,
    /// The sentence.
    pub message: String,
    /// Field problems (only for `invalid`).
    pub fields: Vec<FieldError>,
}

impl AppError {
    /// An error of class `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: Vec::new() }
    }

    /// `invalid`, listing every field problem.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            _ => format!("{} fields need attention", fields.len()),
        };
        Self { code: ErrorCode::Invalid, message, fields }
    }

    /// `not_found` for the profile `id`.
    pub fn no_profile(id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no saved connection with id {id}"))
    }

    /// `io` while doing `what` with `path`.
    pub fn io(what: &str, path: &Path, e: &std::io::Error) -> Self {
        Self::new(ErrorCode::Io, format!("could not {what} {}: {e}", path.display()))
    }
}

//! [`AppError`]: the one error every command returns, `{ code, message, fields }`, so the UI
//! matches on a code and shows a sentence, never parses one.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::FieldError;

/// The class of an [`AppError`]: what the UI can do about it. The engine's own enum, so a
/// tunnel's failure and a command's share one set of codes.
pub use porthole_tunnel::code::ErrorCode;

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

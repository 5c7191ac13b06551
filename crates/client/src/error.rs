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
        Self::new(ErrorCode::Io, format!("Could not {what} {}: {}.", path.display(), io_words(e)))
    }
}

/// An I/O error in words, without the OS's number ("(os error 98)"): the common kinds as a
/// phrase, others as the system says them.
pub fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let words = match e.kind() {
        K::NotFound => "it does not exist",
        K::PermissionDenied => "permission denied",
        K::AddrInUse => "another program is using that address",
        K::AddrNotAvailable => "that address is not one of this computer's",
        K::ConnectionRefused => "nothing is listening there",
        K::AlreadyExists => "it already exists",
        K::TimedOut => "it took too long",
        K::IsADirectory => "it is a folder, not a file",
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or_default().trim().to_owned();
            return if text.is_empty() { "an unknown system error".into() } else { text.to_lowercase() };
        }
    };
    words.to_owned()
}

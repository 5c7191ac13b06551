//! The settings file: [`SETTINGS_FILE`] beside `connections.json`, read with defaults when it is
//! missing and saved atomically, so a failed save leaves the old file as it was.

use std::path::{Path, PathBuf};

use crate::error::{AppError, ErrorCode};
use crate::model::Settings;
use crate::profiles::write_atomic;

/// The settings file's name, beside `connections.json`.
pub const SETTINGS_FILE: &str = "settings.json";

/// The settings file in the config directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

/// The settings saved in `dir` (defaults when none were saved).
///
/// # Errors
/// `io` when the file is unreadable or corrupt (the message names the path and line).
pub fn load(dir: &Path) -> Result<Settings, AppError> {
    let path = path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            AppError::new(ErrorCode::Io, format!("{} is corrupt at line {}: {e}", path.display(), e.line()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(AppError::io("read", &path, &e)),
    }
}

/// Saves `settings` in `dir` through a temporary file and a rename.
///
/// # Errors
/// `io`; the file that was there before is then unchanged.
pub fn save(dir: &Path, settings: &Settings) -> Result<(), AppError> {
    let path = path(dir);
    let json = serde_json::to_vec_pretty(settings).map_err(|e| AppError::new(ErrorCode::Io, e.to_string()))?;
    write_atomic(&path, &json).map_err(|e| AppError::io("save", &path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_default_and_a_save_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Settings::default(), "no file: defaults");
        let changed = Settings { launch_at_login: true, ..Settings::default() };
        save(dir.path(), &changed).unwrap();
        assert_eq!(load(dir.path()).unwrap(), changed);
    }

    #[test]
    fn a_failed_save_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &Settings::default()).unwrap();
        let before = std::fs::read(path(dir.path())).unwrap();
        // A directory where the temporary file goes makes the write fail before the rename.
        std::fs::create_dir(dir.path().join(format!(".{SETTINGS_FILE}.tmp"))).unwrap();
        let changed = Settings { launch_at_login: true, ..Settings::default() };
        let e = save(dir.path(), &changed).expect_err("the temporary file cannot be created");
        assert_eq!(e.code, ErrorCode::Io);
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), before, "the old file is intact");
    }

    #[test]
    fn a_corrupt_file_names_its_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "{\n  \"theme\": \n").unwrap();
        let e = load(dir.path()).expect_err("corrupt");
        assert_eq!(e.code, ErrorCode::Io);
        assert!(e.message.contains(SETTINGS_FILE) && e.message.contains("line 3"), "{}", e.message);
    }
}

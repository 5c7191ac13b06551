//! Private files on disk: directories only their owner may enter (0700) and files only their
//! owner may read (0600), written atomically (a temporary file beside the target, then a
//! rename), so a reader sees the old content or the new one, never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The suffix of the temporary files [`write_private`] makes (and removes) beside its target.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Creates `dir` (and its parents) and makes sure only its owner may enter it (0700 on Unix).
///
/// # Errors
/// The I/O error from creating the directory or setting its mode.
pub(crate) fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    // The mode above applies only to directories created now: tighten an older one too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if fs::metadata(dir)?.permissions().mode() & 0o777 != 0o700 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically with mode 0600: a temporary file in the same
/// directory (created 0600 from the start, so the content is never readable by others),
/// flushed to disk, then renamed over `path`. The temporary file is removed on failure.
///
/// # Errors
/// The I/O error from creating, writing, syncing or renaming the file.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or_else(|| io::Error::other("the path has no parent directory"))?;
    let name = path.file_name().ok_or_else(|| io::Error::other("the path has no file name"))?;
    let temp = dir.join(format!(
        ".{}.{}.{}{TEMP_SUFFIX}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_rename(&temp, path, bytes);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_then_rename(temp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, path)?;
    // Make the rename itself durable where the platform allows syncing a directory.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Reads `path` as UTF-8; `None` when it does not exist.
///
/// # Errors
/// Any other I/O error (a directory in its place, no permission, not UTF-8).
pub(crate) fn read_if_exists(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `path`; a file that is already gone is not an error.
///
/// # Errors
/// Any other I/O error.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

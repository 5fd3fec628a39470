//! The file-system operations behind [`FileStore`](super::FileStore)'s promises, per platform:
//! private files (0600) and directories (0700), the exclusive lock, and durable renames.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

// `File::lock` (flock(2) on Unix, LockFileEx on Windows) is stable since Rust 1.89.
pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
    file.lock().map_err(|error| match error.kind() {
        io::ErrorKind::Unsupported => {
            io::Error::new(io::ErrorKind::Unsupported, "file locking is not supported on this file system")
        }
        _ => error,
    })
}

/// Options that create files readable and writable by the owner only.
#[cfg(unix)]
pub(super) fn private_file_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
pub(super) fn private_file_options() -> OpenOptions {
    OpenOptions::new()
}

#[cfg(unix)]
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Tightens a pre-existing directory too: it holds credentials.
#[cfg(unix)]
pub(super) fn restrict_dir_permissions(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn restrict_dir_permissions(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Makes the directory's entries (a rename, a removal) durable.
#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

//! The file system, safely: the one way dlspec opens a file it reads (never following a symlink,
//! never waiting on a FIFO, never reading past a limit) and the one way it writes a file outside
//! `out/` (never through a symlink, never leaving a part-written file).

use std::fs::{File, Metadata, OpenOptions};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Error;

/// Opens `path` for reading without following a symlink (in its last component) and without
/// waiting for a FIFO's writer: the one way dlspec opens a file it reads. `None` when it is not a
/// regular file (a symlink, FIFO, socket, device or folder): then nothing was read.
///
/// # Errors
/// When it cannot be opened (`NotFound` when it is not there).
pub fn open_regular(path: &Utf8Path) -> std::io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW).open(path)
    {
        Ok(file) => file,
        // O_NOFOLLOW on a symlink.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    Ok(meta.is_file().then_some((file, meta)))
}

/// Reads a regular file of UTF-8 text of at most `limit` bytes. The file is opened without
/// following a symlink and without blocking, and its type checked on the opened descriptor, so a
/// symlink, FIFO or device in its place (even one swapped in after the directory was listed) is
/// refused instead of being followed, blocking or read forever.
///
/// # Errors
/// When the path is not a regular file, is larger than `limit`, cannot be read or is not UTF-8.
pub fn read_text_file(path: &Utf8Path, limit: u64) -> Result<String, Error> {
    use std::io::Read;
    let cannot = |e: std::io::Error| Error::read(path, e);
    let Some((file, metadata)) = open_regular(path).map_err(cannot)? else {
        return Err(Error::NotRegular { path: path.to_owned() });
    };
    let too_large = || Error::TooLarge { path: path.to_owned(), limit };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8 { path: path.to_owned() })
}

/// `root/relative` when every folder between them is a real folder (not a symlink); `None` when
/// one of them is missing. The one walk of the paths dlspec reads and writes below a folder it was
/// given (`specs/.dlspec-lock/…`): nothing outside that folder is reached through a link.
///
/// # Errors
/// When `relative` is not a plain relative path, or a folder on the way is a symlink or a file.
pub fn path_below(root: &Utf8Path, relative: &Utf8Path) -> Result<Option<Utf8PathBuf>, Error> {
    let plain = relative.components().all(|c| matches!(c, camino::Utf8Component::Normal(_)));
    let (Some(folder), Some(_), true) = (relative.parent(), relative.file_name(), plain) else {
        return Err(Error::RefusedPath { path: relative.to_owned(), below: root.to_owned() });
    };
    let mut current = root.to_path_buf();
    for component in folder.components() {
        current.push(component);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_below(&current, root)),
            Ok(_) => return Err(Error::NotAFolder { path: current }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::read(current, e)),
        }
    }
    Ok(Some(root.join(relative)))
}

/// The error of a symlink met below `root`.
#[must_use]
pub fn symlink_below(path: &Utf8Path, root: &Utf8Path) -> Error {
    Error::Symlink { path: path.to_owned(), below: root.to_owned() }
}

/// Reads `root/relative` as [`read_text_file`] does, reached without a symlink below `root`;
/// `None` when it (or a folder on the way) is not there.
///
/// # Errors
/// As [`path_below`] and [`read_text_file`].
pub fn read_text_below(root: &Utf8Path, relative: &Utf8Path, limit: u64) -> Result<Option<String>, Error> {
    let Some(path) = path_below(root, relative)? else { return Ok(None) };
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_below(&path, root)),
        _ => {}
    }
    read_text_file(&path, limit).map(Some)
}

/// The temporary file of a [`write_file_below`] is this prefix and a number, beside the file it
/// replaces; `dlspec init`'s `.gitignore` ignores such names.
pub const TEMP_PREFIX: &str = ".dlspec-tmp.";

/// What [`write_file_below`] does when a file is at the path already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (a lock written again).
    Replace,
    /// Refuse, writing nothing (a file of `dlspec init`).
    Refuse,
}

/// Writes `bytes` to `root/relative` (mode 0644 less the umask): the one way dlspec writes a file
/// outside `out/`. The folders on the way are created when missing, and one that is a symlink is
/// refused, never followed, so nothing is written outside `root`. A replaced file is written to a
/// temporary file beside it and renamed over it: a reader, or a kill, finds the old text or the
/// new one, never a part. A symlink, FIFO or folder at the path is refused, not replaced.
///
/// # Errors
/// When `relative` is not a plain relative path, a folder on the way is a symlink or a file, the
/// path holds something else than a regular file (or anything, with [`Existing::Refuse`]), or
/// writing fails. Nothing is left at the path then.
pub fn write_file_below(root: &Utf8Path, relative: &Utf8Path, bytes: &[u8], existing: Existing) -> Result<(), Error> {
    static TEMP_NAMES: AtomicU64 = AtomicU64::new(0);
    let plain = relative.components().all(|c| matches!(c, camino::Utf8Component::Normal(_)));
    let (Some(folder), Some(_), true) = (relative.parent(), relative.file_name(), plain) else {
        return Err(Error::RefusedPath { path: relative.to_owned(), below: root.to_owned() });
    };
    let mut current = root.to_path_buf();
    for component in folder.components() {
        current.push(component);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = std::fs::symlink_metadata(&current).map_err(|e| Error::read(&current, e))?;
                if meta.file_type().is_symlink() {
                    return Err(symlink_below(&current, root));
                }
                if !meta.is_dir() {
                    return Err(Error::FileInTheWay { path: current });
                }
            }
            Err(e) => return Err(Error::create(current, e)),
        }
    }
    let path = root.join(relative);
    let io = |e: std::io::Error| Error::write(&path, e);
    if existing == Existing::Refuse {
        // `create_new` never follows a symlink and fails on anything at the path.
        let mut file = create_new(&path, false).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Exists { path: path.clone() },
            _ => io(e),
        })?;
        return file.write_all(bytes).map_err(io);
    }
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_below(&path, root)),
        Ok(meta) if !meta.is_file() => return Err(Error::NotReplaceable { path }),
        _ => {}
    }
    let temp =
        current.join(format!("{TEMP_PREFIX}{}.{}", std::process::id(), TEMP_NAMES.fetch_add(1, Ordering::Relaxed)));
    let written = create_new(&temp, false)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(())
}

/// A new file with its final mode (less the umask), failing if anything is at `path`.
pub fn create_new(path: &Utf8Path, executable: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}

/// Makes `options` refuse a symlink in the last component instead of following it.
pub fn nofollow(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// Gives `file` the mode of a generated file (0755 when `executable`, else 0644).
#[cfg(unix)]
pub fn set_file_mode(file: &File, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))
}

/// Gives `file` the mode of a generated file (nothing to do here).
#[cfg(not(unix))]
pub fn set_file_mode(_: &File, _: bool) -> std::io::Result<()> {
    Ok(())
}

/// Whether a file has the mode of a generated file (0755 when `executable`, else 0644).
#[cfg(unix)]
pub fn mode_is(meta: &Metadata, executable: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777 == if executable { 0o755 } else { 0o644 }
}

/// Whether a file has the mode of a generated file (always, here).
#[cfg(not(unix))]
pub fn mode_is(_: &Metadata, _: bool) -> bool {
    true
}

//! How a file in `out/` differs from the planned one: read a block at a time, hashed only once it
//! differs, never opened unless it is a regular file.

use std::fs::{File, FileType, Metadata};
use std::io::{BufReader, Read as _, Write};

use camino::Utf8Path;
use sha2::{Digest, Sha256};

use super::diff::check_diff;
use super::ownership::{Owned, digest16};
use super::{BLOCK, Change, FILE_LIMIT, Found, MANIFEST_LIMIT, STREAMED_DIFF_LIMIT};
use crate::error::Error;
use crate::files::{mode_is, open_regular};
use crate::plan::PlannedFile;
use crate::values::hex;

/// How a file differs, and its content when it was read.
type Difference = (Change, Option<Vec<u8>>);

/// How the file at `full` (of type `found`, from its folder's listing; `None` when it is not
/// there) differs from `planned`, and its content when it was read; `None` when it does not
/// differ. Only regular files are opened, and read only when the size matches or the manifest's
/// hash is needed to tell a hand edit from a stale file (or, with `want_old`, for a diff).
/// `block` is the buffer the file is read into, a block at a time.
pub(super) fn classify(
    full: &Utf8Path,
    found: Option<FileType>,
    planned: &PlannedFile,
    owned: Option<&Owned>,
    want_old: bool,
    block: &mut Vec<u8>,
) -> Result<Option<Difference>, Error> {
    let io = |e: std::io::Error| Error::read(full, e);
    let Some(found) = found else {
        return Ok(Some((Change::Missing, None)));
    };
    if !found.is_file() {
        return Ok(Some((Change::Special, None)));
    }
    let Some(owned) = owned else {
        return Ok(Some((Change::Foreign, None)));
    };
    let Some((file, meta)) = open_regular(full).map_err(io)? else {
        return Ok(Some((Change::Special, None)));
    };
    let changed_by_hand = if owned.manifest.is_some() { Change::Edited } else { Change::Stale };
    let same_size = meta.len() == planned.bytes.len() as u64;
    if !same_size && (meta.len() > FILE_LIMIT || owned.manifest.is_none() && !want_old) {
        return Ok(Some((if meta.len() > FILE_LIMIT { changed_by_hand } else { Change::Stale }, None)));
    }
    // Compared a block at a time (a catalog file of 50,000 images is 20 MB, and holding it would
    // double what rendering it takes), as long as it was when opened (no read only to find its
    // end), and hashed only once it differs: the blocks before are the planned bytes.
    let mut reader = file.take(meta.len());
    block.resize(BLOCK, 0);
    let mut at = 0;
    let mut hasher = (!same_size).then(Sha256::new);
    loop {
        let read = match reader.read(block) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        let this = &block[..read];
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(this);
        } else if planned.bytes.get(at..at + read) != Some(this) {
            let mut started = Sha256::new_with_prefix(&planned.bytes[..at]);
            started.update(this);
            hasher = Some(started);
        }
        at += read;
    }
    let hasher = match hasher {
        Some(hasher) => hasher,
        None if at == planned.bytes.len() => {
            return Ok((!mode_is(&meta, planned.executable)).then_some((Change::Mode, None)));
        }
        // Shorter than when it was looked at: what was read is the planned bytes' beginning.
        None => Sha256::new_with_prefix(&planned.bytes[..at]),
    };
    let edited = owned.manifest.is_some() && !owned.recorded(&digest16(&hasher.finalize()));
    let state = if edited { Change::Edited } else { Change::Stale };
    // The old content is read again, whole, only for the diff `--check` shows.
    let old = if want_old && meta.len() <= FILE_LIMIT {
        let mut old = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or_default());
        match open_regular(full).map_err(io)? {
            Some((file, _)) => file.take(FILE_LIMIT).read_to_end(&mut old).map_err(io)?,
            None => return Ok(Some((Change::Special, None))),
        };
        Some(old)
    } else {
        None
    };
    Ok(Some((state, old)))
}

/// As [`classify`], for a streamed file: renders it once, hashing it and comparing it with the
/// file at `full` as both stream. Returns its hash, and how it differs with the diff `--check`
/// shows (only when both texts are small).
pub(super) fn classify_streamed(
    path: &Utf8Path,
    full: &Utf8Path,
    found: Option<FileType>,
    executable: bool,
    render: &dyn Fn(&mut dyn Write) -> Result<(), Error>,
    owned: Option<&Owned>,
    want_diff: bool,
) -> Result<(String, Found), Error> {
    let io = |e: std::io::Error| Error::read(full, e);
    let (old, old_meta) = match (found, owned) {
        (Some(found), Some(_)) if found.is_file() => match open_regular(full).map_err(io)? {
            Some((file, meta)) => (Some(file), Some(meta)),
            None => (None, None),
        },
        _ => (None, None),
    };
    let old_len = old_meta.as_ref().map_or(0, Metadata::len);
    let mut compare = Compare {
        new: Sha256::new(),
        new_len: 0,
        old: old.map(|file| BufReader::with_capacity(1 << 16, file.take(MANIFEST_LIMIT))),
        old_hash: Sha256::new(),
        equal: true,
        block: Vec::new(),
    };
    render(&mut compare)?;
    let (hash, new_len, equal, old_hash) = compare.finish().map_err(io)?;
    let hex = hex(&hash);
    let state = match (found, &old_meta, owned) {
        (None, _, _) => Change::Missing,
        (Some(found), _, _) if !found.is_file() => Change::Special,
        (Some(_), _, None) => Change::Foreign,
        // No longer a regular file when it was opened.
        (Some(_), None, Some(_)) => Change::Special,
        (Some(_), Some(meta), Some(_)) if equal => {
            return Ok((hex, (!mode_is(meta, executable)).then_some((Change::Mode, None))));
        }
        (Some(_), Some(_), Some(owned)) => {
            let edited = owned.manifest.is_some() && !owned.recorded(&digest16(&old_hash));
            if edited { Change::Edited } else { Change::Stale }
        }
    };
    let small = old_len <= STREAMED_DIFF_LIMIT && new_len <= STREAMED_DIFF_LIMIT;
    let diff = if want_diff && small && matches!(state, Change::Stale | Change::Edited) {
        let mut new = Vec::new();
        render(&mut new)?;
        let mut old = Vec::new();
        if let Some((file, _)) = open_regular(full).map_err(io)? {
            file.take(STREAMED_DIFF_LIMIT).read_to_end(&mut old).map_err(io)?;
        }
        Some(check_diff(path, state, &old, &new))
    } else {
        None
    };
    Ok((hex, Some((state, diff))))
}

/// A writer that hashes what is written and compares it with a file read alongside.
struct Compare {
    pub(super) new: Sha256,
    new_len: u64,
    pub(super) old: Option<BufReader<std::io::Take<File>>>,
    old_hash: Sha256,
    /// Whether everything so far matched the file.
    equal: bool,
    pub(super) block: Vec<u8>,
}

impl Compare {
    /// Reads up to `len` bytes of the old file into `block`, hashing them; how many there were.
    fn read_old(&mut self, len: usize) -> std::io::Result<usize> {
        let Some(old) = &mut self.old else { return Ok(0) };
        self.block.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            match old.read(&mut self.block[filled..]) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.old_hash.update(&self.block[..filled]);
        Ok(filled)
    }

    /// The new text's hash and length, whether it equals the file, and the file's hash.
    pub(super) fn finish(mut self) -> std::io::Result<([u8; 32], u64, bool, [u8; 32])> {
        while self.read_old(1 << 16)? > 0 {
            self.equal = false;
        }
        let equal = self.equal && self.old.is_some();
        Ok((self.new.finalize().into(), self.new_len, equal, self.old_hash.finalize().into()))
    }
}

impl Write for Compare {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.new.update(buf);
        self.new_len += buf.len() as u64;
        let read = self.read_old(buf.len())?;
        self.equal = self.equal && read == buf.len() && self.block[..read] == *buf;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

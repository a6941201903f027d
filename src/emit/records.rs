//! The record format of the manifest and the journal: `<sha256>  <path>` lines, read without
//! ever blocking on a FIFO or holding more than a line.

use std::io::{BufRead as _, BufReader, Read as _};

use camino::Utf8Path;
use sha2::{Digest, Sha256};

use super::ownership::Digest16;
use super::{LINE_LIMIT, MANIFEST_LIMIT};
use crate::files::open_regular;

/// What reading a manifest or journal gave.
pub(super) enum Records {
    Absent,
    /// Read: the sha256 of its bytes, and how many bytes its whole records take (all of them, but
    /// for a last line cut short that was skipped).
    Read([u8; 32], u64),
    Unusable(String),
}

/// Reads `<sha256>  <path>` lines, giving each to `each`, without ever blocking on a FIFO or
/// holding more than a line. `tolerant`: a last line cut short (a journal whose writer was killed)
/// is skipped instead of making the whole file unusable.
pub(super) fn read_records(path: &Utf8Path, tolerant: bool, each: impl FnMut(&Utf8Path, Digest16)) -> Records {
    read_records_from(path, 0, tolerant, each)
}

/// As [`read_records`], from byte `from` on (a record's start).
pub(super) fn read_records_from(
    path: &Utf8Path,
    from: u64,
    tolerant: bool,
    mut each: impl FnMut(&Utf8Path, Digest16),
) -> Records {
    use std::io::Seek as _;
    let (mut file, meta) = match open_regular(path) {
        Ok(Some(found)) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Records::Absent,
        Ok(None) => return Records::Unusable("is not a regular file".to_owned()),
        Err(e) => return Records::Unusable(format!("cannot be read ({e})")),
    };
    if meta.len() > MANIFEST_LIMIT {
        return Records::Unusable(format!("is larger than {} MiB", MANIFEST_LIMIT >> 20));
    }
    if let Err(e) = file.seek(std::io::SeekFrom::Start(from)) {
        return Records::Unusable(format!("cannot be read ({e})"));
    }
    let mut reader = BufReader::with_capacity(1 << 16, file.take(MANIFEST_LIMIT));
    let mut hasher = Sha256::new();
    let mut line = Vec::new();
    let mut whole = from;
    for number in 1.. {
        line.clear();
        if let Err(e) = (&mut reader).take(LINE_LIMIT).read_until(b'\n', &mut line) {
            return Records::Unusable(format!("cannot be read ({e})"));
        }
        if line.is_empty() {
            break;
        }
        hasher.update(&line);
        let Some((path, digest)) = line.strip_suffix(b"\n").and_then(parse_record) else {
            if tolerant && !line.ends_with(b"\n") && (line.len() as u64) < LINE_LIMIT {
                break;
            }
            return Records::Unusable(format!("has a line {number} that is not `<sha256>  <path>`"));
        };
        whole += line.len() as u64;
        each(path, digest);
    }
    Records::Read(hasher.finalize().into(), whole)
}

/// A `<sha256>  <path>` line: 64 lowercase hex digits, two spaces, a relative path of plain names.
pub(super) fn parse_record(line: &[u8]) -> Option<(&Utf8Path, Digest16)> {
    let line = std::str::from_utf8(line).ok()?;
    let (hash, path) = line.split_once("  ")?;
    let path = Utf8Path::new(path);
    let plain = !path.as_str().is_empty()
        && !path.as_str().contains(['\\', '\r'])
        && path.components().all(|c| matches!(c, camino::Utf8Component::Normal(_)));
    if hash.len() != 64 || !plain {
        return None;
    }
    let mut digest = [0; 16];
    for (i, byte) in digest.iter_mut().enumerate() {
        let pair = hash.get(2 * i..2 * i + 2)?;
        if !pair.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    hash[32..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)).then_some((path, digest))
}

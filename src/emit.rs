//! Write: compare the plan with `out/` and write what changed (or, for `--check`, report it).
//!
//! `out/.dlspec-manifest` records every generated file with its sha256, so that dlspec knows
//! what it owns: files it generated earlier and no spec produces now are removed, everything
//! else in `out/` is left alone, and hand edits to generated files are noticed.

use std::collections::BTreeMap;
use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::plan::{Plan, PlannedFile};
use crate::source::InputError;

/// The manifest's file name inside `out/`.
pub const MANIFEST: &str = ".dlspec-manifest";

/// What differs between the plan and `out/` for one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Planned, not on disk.
    Missing,
    /// On disk with other content than planned, as dlspec last wrote it.
    Stale,
    /// On disk with other content than dlspec last wrote: edited by hand.
    Edited,
    /// Right content, wrong mode.
    Mode,
    /// Generated earlier, produced by no spec now.
    Orphaned,
}

impl Change {
    /// The word `--check` prints.
    #[must_use]
    pub fn word(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Stale => "stale",
            Self::Edited => "edited",
            Self::Mode => "mode",
            Self::Orphaned => "orphaned",
        }
    }
}

/// The differences between a plan and an output directory.
#[derive(Debug, Default)]
pub struct Diff {
    /// Changed files, by path relative to `out/`.
    pub changes: BTreeMap<Utf8PathBuf, Change>,
    /// Planned files already up to date.
    pub unchanged: usize,
    /// Orphans that were edited by hand: left in place.
    pub kept: Vec<Utf8PathBuf>,
    manifest: BTreeMap<Utf8PathBuf, String>,
    manifest_found: bool,
}

/// Compares `plan` with `out`.
///
/// # Errors
/// When `out` cannot be read, or a path inside it is a symlink.
pub fn diff(plan: &Plan, out: &Utf8Path) -> Result<Diff, InputError> {
    let manifest_path = out.join(MANIFEST);
    let manifest_text = read_optional(&manifest_path)?;
    let manifest = manifest_text.as_deref().map(parse_manifest).unwrap_or_default();
    let mut diff = Diff { manifest_found: manifest_text.is_some(), manifest, ..Diff::default() };
    for (path, planned) in &plan.files {
        let full = safe_path(out, path)?;
        let Some(current) = read_optional_bytes(&full)? else {
            diff.changes.insert(path.clone(), Change::Missing);
            continue;
        };
        if current == planned.bytes {
            if mode_matches(&full, planned.executable)? {
                diff.unchanged += 1;
            } else {
                diff.changes.insert(path.clone(), Change::Mode);
            }
            continue;
        }
        let edited = diff.manifest.get(path).is_some_and(|hash| *hash != sha256_hex(&current));
        diff.changes.insert(path.clone(), if edited { Change::Edited } else { Change::Stale });
    }
    for (path, hash) in &diff.manifest {
        if plan.files.contains_key(path) {
            continue;
        }
        let full = safe_path(out, path)?;
        if let Some(current) = read_optional_bytes(&full)? {
            if sha256_hex(&current) == *hash {
                diff.changes.insert(path.clone(), Change::Orphaned);
            } else {
                diff.kept.push(path.clone());
            }
        }
    }
    Ok(diff)
}

impl Diff {
    /// Whether `out/` already holds exactly the plan.
    #[must_use]
    pub fn is_clean(&self, plan: &Plan) -> bool {
        self.changes.is_empty() && self.manifest_matches(plan)
    }

    fn manifest_matches(&self, plan: &Plan) -> bool {
        self.manifest_found
            && self.manifest.len() == plan.files.len()
            && plan.files.iter().all(|(p, f)| self.manifest.get(p).is_some_and(|h| *h == sha256_hex(&f.bytes)))
    }

    /// Whether `out` was never written by dlspec but holds files (then compile wants `--force`).
    ///
    /// # Errors
    /// When `out` cannot be listed.
    pub fn foreign_dir(&self, out: &Utf8Path) -> Result<bool, InputError> {
        if self.manifest_found || !out.exists() {
            return Ok(false);
        }
        let mut entries = out.read_dir_utf8().map_err(|e| InputError(format!("cannot read `{out}`: {e}")))?;
        Ok(entries.next().is_some())
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files created or rewritten.
    pub written: usize,
    /// Orphans removed.
    pub removed: usize,
    /// Hand-edited files that were overwritten.
    pub overwritten_edits: Vec<Utf8PathBuf>,
}

/// Writes the changed files of `diff` (each through a temporary file and a rename), removes
/// orphans and the folders they leave empty, and rewrites the manifest.
///
/// # Errors
/// On any I/O error; files written before it stay written.
pub fn write(plan: &Plan, diff: &Diff, out: &Utf8Path) -> Result<Written, InputError> {
    let mut written = Written::default();
    std::fs::create_dir_all(out).map_err(|e| InputError(format!("cannot create `{out}`: {e}")))?;
    for (path, change) in &diff.changes {
        let full = safe_path(out, path)?;
        match change {
            Change::Orphaned => {
                std::fs::remove_file(&full).map_err(|e| InputError(format!("cannot remove `{full}`: {e}")))?;
                remove_empty_parents(out, &full);
                written.removed += 1;
            }
            _ => {
                if *change == Change::Edited {
                    written.overwritten_edits.push(path.clone());
                }
                write_atomic(&full, &plan.files[path])?;
                written.written += 1;
            }
        }
    }
    if !diff.manifest_matches(plan) {
        let manifest: String = plan.files.iter().map(|(p, f)| format!("{}  {p}\n", sha256_hex(&f.bytes))).collect();
        let file = PlannedFile { bytes: manifest.into_bytes(), executable: false };
        write_atomic(&out.join(MANIFEST), &file)?;
    }
    Ok(written)
}

/// A unified diff of a stale file, cut to `max_lines`.
#[must_use]
pub fn unified(path: &Utf8Path, old: &[u8], new: &[u8], max_lines: usize) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let text = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max_lines {
        return text;
    }
    let mut cut = lines[..max_lines].join("\n");
    cut.push_str(&format!("\n… {} more lines\n", lines.len() - max_lines));
    cut
}

fn write_atomic(path: &Utf8Path, file: &PlannedFile) -> Result<(), InputError> {
    let io = |e: std::io::Error| InputError(format!("cannot write `{path}`: {e}"));
    let dir = path.parent().expect("output files live in a directory");
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut temp = tempfile::Builder::new().prefix(".dlspec-").tempfile_in(dir).map_err(io)?;
    temp.write_all(&file.bytes).map_err(io)?;
    set_mode(temp.as_file(), file.executable).map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn mode_matches(path: &Utf8Path, executable: bool) -> Result<bool, InputError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| InputError(format!("cannot read `{path}`: {e}")))?;
    Ok(meta.permissions().mode() & 0o777 == if executable { 0o755 } else { 0o644 })
}

#[cfg(not(unix))]
fn mode_matches(_: &Utf8Path, _: bool) -> Result<bool, InputError> {
    Ok(true)
}

/// `out/path`, refusing any symlink on the way so that nothing is read or written outside `out/`.
fn safe_path(out: &Utf8Path, relative: &Utf8Path) -> Result<Utf8PathBuf, InputError> {
    let mut current = out.to_path_buf();
    for component in relative.components() {
        if !matches!(component, camino::Utf8Component::Normal(_)) {
            return Err(InputError(format!("refusing the output path `{relative}`")));
        }
        current.push(component);
        if let Ok(meta) = std::fs::symlink_metadata(&current)
            && meta.file_type().is_symlink()
        {
            return Err(InputError(format!(
                "`{current}` is a symlink: dlspec does not follow links inside the output directory"
            )));
        }
    }
    Ok(current)
}

fn remove_empty_parents(out: &Utf8Path, file: &Utf8Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == out || !d.starts_with(out) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn read_optional(path: &Utf8Path) -> Result<Option<String>, InputError> {
    Ok(read_optional_bytes(path)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

fn read_optional_bytes(path: &Utf8Path) -> Result<Option<Vec<u8>>, InputError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(InputError(format!("cannot read `{path}`: {e}"))),
    }
}

/// Reads the current bytes of a generated file, for diffs.
#[must_use]
pub fn current_bytes(out: &Utf8Path, path: &Utf8Path) -> Vec<u8> {
    safe_path(out, path).ok().and_then(|p| std::fs::read(p).ok()).unwrap_or_default()
}

fn parse_manifest(text: &str) -> BTreeMap<Utf8PathBuf, String> {
    text.lines()
        .filter_map(|line| line.split_once("  "))
        .filter(|(hash, path)| hash.len() == 64 && !path.is_empty())
        .filter(|(_, path)| Utf8Path::new(path).components().all(|c| matches!(c, camino::Utf8Component::Normal(_))))
        .map(|(hash, path)| (Utf8PathBuf::from(path), hash.to_owned()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

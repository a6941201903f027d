//! Write: compare the plan with `out/` and write what changed (or, for `--check`, report it).
//!
//! `out/.dlspec-manifest` records every generated file with its sha256, so that dlspec knows
//! what it owns: files it generated earlier and no spec produces now are removed, everything
//! else in `out/` is left alone, and hand edits to generated files are noticed.

use std::collections::{BTreeMap, HashMap};
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
    // Reading the tree is most of the work: in parallel over contiguous runs of paths, merged in
    // path order (so the first error is the one a single pass would meet).
    let planned: Vec<(&Utf8PathBuf, &PlannedFile)> = plan.files.iter().collect();
    let compared = crate::in_parallel(&planned, 256, |chunk| {
        let mut resolver = Resolver::new(out);
        let mut changes = Vec::new();
        for &(path, file) in chunk {
            let (full, meta) = resolver.file(path)?;
            if let Some(change) = compare(&full, meta, file, || diff.manifest.get(path))? {
                changes.push((path.clone(), change));
            }
        }
        Ok::<_, InputError>((chunk.len() - changes.len(), changes))
    });
    let mut changes = Vec::new();
    for result in compared {
        let (unchanged, chunk) = result?;
        diff.unchanged += unchanged;
        changes.extend(chunk);
    }
    // In path order already: collecting is linear, inserting one by one is not.
    diff.changes = changes.into_iter().collect();
    let mut resolver = Resolver::new(out);
    let mut planned = plan.files.keys().peekable();
    for (path, hash) in &diff.manifest {
        // Both are sorted by path: walk them side by side rather than look each one up.
        while planned.next_if(|p| *p < path).is_some() {}
        if planned.peek() == Some(&path) {
            continue;
        }
        let (full, _) = resolver.file(path)?;
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

/// How the file at `full` (`meta`: its `lstat`) differs from `planned`, or `None` when it does
/// not. The file is read only when its size matches, or when `recorded` (the manifest's hash
/// of it) is needed to tell a hand edit from a stale file.
fn compare<'m>(
    full: &Utf8Path,
    meta: std::io::Result<std::fs::Metadata>,
    planned: &PlannedFile,
    recorded: impl Fn() -> Option<&'m String>,
) -> Result<Option<Change>, InputError> {
    let meta = match meta {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Change::Missing)),
        // Anything but a regular file: reading it reports the problem.
        Ok(meta) if meta.is_file() => Some(meta),
        _ => None,
    };
    let same_size = meta.as_ref().is_none_or(|m| m.len() == planned.bytes.len() as u64);
    if !same_size && recorded().is_none() {
        return Ok(Some(Change::Stale));
    }
    let Some(current) = read_optional_bytes(full)? else {
        return Ok(Some(Change::Missing));
    };
    if current == planned.bytes {
        let mode = match &meta {
            Some(meta) => mode_is(meta, planned.executable),
            None => mode_matches(full, planned.executable)?,
        };
        return Ok((!mode).then_some(Change::Mode));
    }
    let edited = recorded().is_some_and(|hash| *hash != sha256_hex(&current));
    Ok(Some(if edited { Change::Edited } else { Change::Stale }))
}

impl Diff {
    /// Whether `out/` already holds exactly the plan.
    #[must_use]
    pub fn is_clean(&self, plan: &Plan) -> bool {
        self.changes.is_empty() && self.manifest_matches(plan)
    }

    fn manifest_matches(&self, plan: &Plan) -> bool {
        // Same length and both sorted by path: equal when equal side by side.
        self.manifest_found
            && self.manifest.len() == plan.files.len()
            && plan.files.keys().zip(self.manifest.keys()).all(|(p, mp)| p == mp)
            && planned_hashes(plan).iter().zip(self.manifest.values()).all(|(h, mh)| h == mh)
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
    // Orphans first, one after the other: removing one may remove its folder.
    let mut resolver = Resolver::new(out);
    for (path, _) in diff.changes.iter().filter(|(_, c)| **c == Change::Orphaned) {
        let (full, _) = resolver.file(path)?;
        std::fs::remove_file(&full).map_err(|e| InputError(format!("cannot remove `{full}`: {e}")))?;
        remove_empty_parents(out, &full);
        resolver.forget();
        written.removed += 1;
    }
    // Then the files, in parallel over contiguous runs of paths (merged in path order).
    let files: Vec<(&Utf8PathBuf, &Change)> = diff.changes.iter().filter(|(_, c)| **c != Change::Orphaned).collect();
    let results = crate::in_parallel(&files, 256, |chunk| {
        let mut resolver = Resolver::new(out);
        let mut edits = Vec::new();
        for &(path, change) in chunk {
            let (full, _) = resolver.file(path)?;
            if *change == Change::Edited {
                edits.push(path.clone());
            }
            let dir = full.parent().expect("output files live in a directory");
            if !resolver.is_dir(dir) {
                std::fs::create_dir_all(dir).map_err(|e| InputError(format!("cannot write `{full}`: {e}")))?;
                resolver.created(dir);
            }
            write_atomic(&full, &plan.files[path])?;
        }
        Ok::<_, InputError>((chunk.len(), edits))
    });
    for result in results {
        let (count, edits) = result?;
        written.written += count;
        written.overwritten_edits.extend(edits);
    }
    if !diff.manifest_matches(plan) {
        let manifest: String =
            plan.files.keys().zip(planned_hashes(plan)).map(|(p, h)| format!("{h}  {p}\n")).collect();
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
fn mode_is(meta: &std::fs::Metadata, executable: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777 == if executable { 0o755 } else { 0o644 }
}

#[cfg(not(unix))]
fn mode_is(_: &std::fs::Metadata, _: bool) -> bool {
    true
}

#[cfg(unix)]
fn mode_matches(path: &Utf8Path, executable: bool) -> Result<bool, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| InputError(format!("cannot read `{path}`: {e}")))?;
    Ok(mode_is(&meta, executable))
}

#[cfg(not(unix))]
fn mode_matches(_: &Utf8Path, _: bool) -> Result<bool, InputError> {
    Ok(true)
}

/// Turns paths relative to `out/` into real ones, refusing any symlink on the way so that nothing
/// is read or written outside `out/`. It remembers which folders it found to be real folders (or
/// missing), so each folder is looked at once per run, not once per file below it.
struct Resolver<'a> {
    out: &'a Utf8Path,
    folders: HashMap<Utf8PathBuf, bool>,
}

impl<'a> Resolver<'a> {
    fn new(out: &'a Utf8Path) -> Self {
        Self { out, folders: HashMap::new() }
    }

    /// `out/relative` and its `lstat`.
    fn file(&mut self, relative: &Utf8Path) -> Result<(Utf8PathBuf, std::io::Result<std::fs::Metadata>), InputError> {
        let mut current = self.out.to_path_buf();
        let mut components = relative.components().peekable();
        let mut missing = false;
        while let Some(component) = components.next() {
            if !matches!(component, camino::Utf8Component::Normal(_)) {
                return Err(InputError(format!("refusing the output path `{relative}`")));
            }
            current.push(component);
            if components.peek().is_none() {
                break;
            }
            if missing {
                continue;
            }
            match self.folders.get(&current) {
                Some(true) => continue,
                Some(false) => {
                    missing = true;
                    continue;
                }
                None => {}
            }
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(symlink(&current)),
                Ok(meta) if meta.is_dir() => {
                    self.folders.insert(current.clone(), true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.folders.insert(current.clone(), false);
                    missing = true;
                }
                _ => {}
            }
        }
        if missing {
            return Ok((current, Err(std::io::ErrorKind::NotFound.into())));
        }
        let meta = std::fs::symlink_metadata(&current);
        if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(symlink(&current));
        }
        Ok((current, meta))
    }

    /// Whether `dir` is known to be a real folder.
    fn is_dir(&self, dir: &Utf8Path) -> bool {
        self.folders.get(dir) == Some(&true)
    }

    /// `dir` and the folders above it, up to `out`, were just created.
    fn created(&mut self, dir: &Utf8Path) {
        for d in dir.ancestors().take_while(|d| d.starts_with(self.out) && *d != self.out) {
            self.folders.insert(d.to_path_buf(), true);
        }
    }

    /// Forgets every folder (after removing some).
    fn forget(&mut self) {
        self.folders.clear();
    }
}

fn symlink(path: &Utf8Path) -> InputError {
    InputError(format!("`{path}` is a symlink: dlspec does not follow links inside the output directory"))
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
    Resolver::new(out).file(path).ok().and_then(|(p, _)| std::fs::read(p).ok()).unwrap_or_default()
}

fn parse_manifest(text: &str) -> BTreeMap<Utf8PathBuf, String> {
    text.lines()
        .filter_map(|line| line.split_once("  "))
        .filter(|(hash, path)| hash.len() == 64 && !path.is_empty())
        .filter(|(_, path)| Utf8Path::new(path).components().all(|c| matches!(c, camino::Utf8Component::Normal(_))))
        .map(|(hash, path)| (Utf8PathBuf::from(path), hash.to_owned()))
        .collect()
}

/// The sha256 of every planned file, in path order; in parallel, as it reads every byte.
fn planned_hashes(plan: &Plan) -> Vec<String> {
    let files: Vec<&PlannedFile> = plan.files.values().collect();
    crate::in_parallel(&files, 256, |chunk| chunk.iter().map(|f| sha256_hex(&f.bytes)).collect::<Vec<_>>()).concat()
}

fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(bytes) {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn plan(files: &[(&str, &str, bool)]) -> Plan {
        let files = files
            .iter()
            .map(|(p, text, executable)| {
                (Utf8PathBuf::from(p), PlannedFile { bytes: text.as_bytes().to_vec(), executable: *executable })
            })
            .collect();
        Plan { files, images: 1 }
    }

    fn changes(plan: &Plan, out: &Utf8Path) -> Vec<(String, &'static str)> {
        let diff = diff(plan, out).unwrap();
        diff.changes.iter().map(|(p, c)| (p.to_string(), c.word())).collect()
    }

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let out = Utf8PathBuf::from_path_buf(dir.path().join("out")).unwrap();
        (dir, out)
    }

    #[test]
    fn diff_tells_every_kind_of_change() {
        let (_dir, out) = temp();
        let first = plan(&[
            ("a/run.sh", "echo\n", true),
            ("a/same-size.txt", "one\n", false),
            ("a/other-size.txt", "one\n", false),
            ("a/edited-same.txt", "one\n", false),
            ("a/edited-other.txt", "one\n", false),
            ("b/c/deep.txt", "deep\n", false),
            ("gone.txt", "old\n", false),
            ("top.txt", "top\n", false),
        ]);
        let d = diff(&first, &out).unwrap();
        assert_eq!(d.changes.len(), 8);
        assert!(d.changes.values().all(|c| *c == Change::Missing));
        write(&first, &d, &out).unwrap();
        let d = diff(&first, &out).unwrap();
        assert!(d.is_clean(&first) && d.unchanged == 8, "{d:?}");

        std::fs::set_permissions(out.join("a/run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(out.join("a/edited-same.txt"), "two\n").unwrap();
        std::fs::write(out.join("a/edited-other.txt"), "longer\n").unwrap();
        std::fs::remove_dir_all(out.join("b")).unwrap();
        let second = plan(&[
            ("a/run.sh", "echo\n", true),
            ("a/same-size.txt", "two\n", false),
            ("a/other-size.txt", "longer\n", false),
            ("a/edited-same.txt", "one\n", false),
            ("a/edited-other.txt", "one\n", false),
            ("b/c/deep.txt", "deep\n", false),
            ("top.txt", "top\n", false),
        ]);
        let expected = [
            ("a/edited-other.txt", "edited"),
            ("a/edited-same.txt", "edited"),
            ("a/other-size.txt", "stale"),
            ("a/run.sh", "mode"),
            ("a/same-size.txt", "stale"),
            ("b/c/deep.txt", "missing"),
            ("gone.txt", "orphaned"),
        ];
        assert_eq!(changes(&second, &out), expected.map(|(p, w)| (p.to_owned(), w)));
        let d = diff(&second, &out).unwrap();
        assert_eq!(d.unchanged, 1);
        let written = write(&second, &d, &out).unwrap();
        assert_eq!((written.written, written.removed, written.overwritten_edits.len()), (6, 1, 2));
        assert!(diff(&second, &out).unwrap().is_clean(&second));
        assert_eq!(std::fs::metadata(out.join("a/run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn a_folder_emptied_by_an_orphan_is_created_again() {
        let (_dir, out) = temp();
        let first = plan(&[("x/a.txt", "a\n", false)]);
        write(&first, &diff(&first, &out).unwrap(), &out).unwrap();
        // `x/a.txt` goes first, and `x/` with it; then `x/b.txt` and `x/c/d.txt` need it again.
        let second = plan(&[("x/b.txt", "b\n", false), ("x/c/d.txt", "d\n", false)]);
        write(&second, &diff(&second, &out).unwrap(), &out).unwrap();
        assert!(!out.join("x/a.txt").exists());
        assert_eq!(std::fs::read_to_string(out.join("x/b.txt")).unwrap(), "b\n");
        assert_eq!(std::fs::read_to_string(out.join("x/c/d.txt")).unwrap(), "d\n");
        assert!(diff(&second, &out).unwrap().is_clean(&second));
    }

    #[test]
    fn symlinks_are_refused_as_files_and_as_folders() {
        let (dir, out) = temp();
        let files = plan(&[("a/b/file.txt", "x\n", false), ("z.txt", "z\n", false)]);
        write(&files, &diff(&files, &out).unwrap(), &out).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("file.txt"), "x\n").unwrap();

        std::fs::remove_file(out.join("z.txt")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("file.txt"), out.join("z.txt")).unwrap();
        let error = diff(&files, &out).unwrap_err().0;
        assert!(error.contains("z.txt` is a symlink"), "{error}");

        std::fs::remove_file(out.join("z.txt")).unwrap();
        std::fs::remove_dir_all(out.join("a/b")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("a/b")).unwrap();
        let error = diff(&files, &out).unwrap_err().0;
        assert!(error.contains("a/b` is a symlink"), "{error}");
    }
}

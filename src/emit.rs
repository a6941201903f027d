//! Write: bring `out/` in line with the planned files (or, for `--check`, report how it differs).
//!
//! What dlspec owns in `out/` is what it can prove it wrote:
//! - `out/.dlspec-manifest` lists every file of the last complete compile with its sha256. A
//!   manifest that is missing, not a regular file, too large or not in that format owns nothing.
//! - `out/.dlspec-tmp/` is the compile's working folder, outside every image's build context: the
//!   files it stages (`staged/`), the new manifest (renamed over the old one at the end), and the
//!   journal, which lists the path and hash of every staged file before the first one is renamed
//!   into place. After a crash the journal still owns what the killed compile may have written,
//!   so the next compile repairs the tree without `--force`; `--check` flags the folder. A
//!   complete compile removes it.
//!
//! A compile works in two phases. First every image is rendered and compared with `out/`, and
//! each file that differs is written to `staged/` (named by its path's key), so that a template
//! that fails on the last image, or a refusal, leaves `out/` exactly as it was (the working folder
//! is removed again, or left as a killed compile left it). Only then are the staged files renamed
//! into place, in the journal's order, and the orphans removed: a file in `out/` is always the old
//! text or the new one, never a part, and the journal owns every new one.
//!
//! A planned path that holds a file dlspec does not own is refused (unless `--force`) before
//! anything is written. A file the manifest or journal owns and no step produces now is removed
//! only when it is a regular file inside `out/` whose content still has a recorded hash.
//! Nothing that is not a regular file is ever opened for reading (a FIFO would block), and each
//! compile holds a lock on `out/` itself, so two compiles never write the same tree at once.

use std::collections::HashMap;
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::hash::{DefaultHasher, Hasher as _};
use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Write};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::files::{create_new, mode_is, nofollow, open_regular, set_file_mode};
use crate::plan::PlannedFile;

/// The manifest's file name inside `out/`.
pub const MANIFEST: &str = ".dlspec-manifest";
/// The working folder's name inside `out/`.
pub const WORK_DIR: &str = ".dlspec-tmp";
const JOURNAL: &str = "journal";
const STAGED: &str = "staged";
const NEW_MANIFEST: &str = "manifest";
/// Longer lines make a manifest unusable (a path is at most a few hundred bytes).
const LINE_LIMIT: u64 = 4096;
/// Larger manifests are unusable (50,000 images make about 100 MB).
const MANIFEST_LIMIT: u64 = 1 << 30;
/// Larger files at a generated path are never read: no template makes one.
const FILE_LIMIT: u64 = 16 << 20;
/// How much of a file is read at a time to compare it.
const BLOCK: usize = 1 << 16;

/// How a file in `out/` differs from what dlspec would write there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Planned, not on disk.
    Missing,
    /// On disk with other content than planned, as dlspec last wrote it.
    Stale,
    /// On disk with other content than dlspec last wrote: edited by hand.
    Edited,
    /// Right content, wrong mode.
    Mode,
    /// Generated earlier, produced by no spec now, unchanged since: compile removes it.
    Orphaned,
    /// Generated earlier, produced by no spec now, but edited by hand or not a regular file:
    /// left in place.
    Kept,
    /// On disk where a planned file goes, but not written by dlspec: compile needs `--force`.
    Foreign,
    /// A FIFO, socket, device or folder where a planned file goes: never read, never replaced.
    Special,
    /// Left in `out/.dlspec-tmp/` by a compile that did not finish, or beside a generated file by
    /// an older version's.
    Leftover,
}

impl Change {
    /// The word `--check` prints.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Stale => "stale",
            Self::Edited => "edited",
            Self::Mode => "mode",
            Self::Orphaned => "orphaned",
            Self::Kept => "kept",
            Self::Foreign => "foreign",
            Self::Special => "special",
            Self::Leftover => "leftover",
        }
    }
}

/// One file that differs, as `compile` and `--check` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Relative to `out/`.
    pub path: Utf8PathBuf,
    /// How it differs.
    pub state: Change,
    /// For `--check` of a stale or edited file: a unified diff from the file to the planned one,
    /// cut to 40 lines.
    pub diff: Option<String>,
}

/// Writes a streamed file's content.
pub type Render<'r> = Box<dyn Fn(&mut dyn Write) -> Result<(), Error> + 'r>;

/// How a file differs, and the diff `--check` shows of it.
type Found = Option<(Change, Option<String>)>;

/// What a step renders for one path: its bytes, or a function that writes them a piece at a time
/// (the catalog files, which grow with the catalog). A streamed file is rendered once to compare
/// and hash it, and once more to stage it when it differs; its old text is read whole, for the
/// diff `--check` shows, only when both are small.
pub enum Content<'r> {
    /// Rendered in memory.
    File(PlannedFile),
    /// Rendered into a writer.
    Streamed {
        /// Mode 0755 instead of 0644.
        executable: bool,
        /// Writes the content.
        render: Render<'r>,
    },
}

impl Content<'_> {
    fn executable(&self) -> bool {
        match self {
            Self::File(file) => file.executable,
            Self::Streamed { executable, .. } => *executable,
        }
    }

    /// Writes the content into `file`, at `path`.
    fn write_into(&self, file: &mut File, path: &Utf8Path) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::write(path, e);
        match self {
            Self::File(planned) => file.write_all(&planned.bytes).map_err(io),
            Self::Streamed { render, .. } => {
                let mut buffered = BufWriter::with_capacity(1 << 16, file);
                render(&mut buffered)?;
                buffered.flush().map_err(io)
            }
        }
    }
}

/// Streamed files whose old and new text are both at most this size get a diff in `--check`.
const STREAMED_DIFF_LIMIT: u64 = 1 << 20;

/// Write the files, or only compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--check`: write nothing.
    Check,
    /// `compile`; `force` overwrites files dlspec does not own.
    Write {
        /// Overwrite files dlspec does not own.
        force: bool,
    },
}

/// What a run found and did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Planned files.
    pub files: usize,
    /// Planned files already up to date.
    pub unchanged: usize,
    /// Planned files that differ (written, unless checking).
    pub changed: usize,
    /// Files created or rewritten.
    pub written: usize,
    /// Orphans found (removed, unless checking).
    pub orphaned: usize,
    /// Files left by an interrupted compile.
    pub leftovers: usize,
    /// Whether the manifest differs from the one this run makes.
    pub manifest_stale: bool,
    /// Why the manifest was not used, when it was there but unusable.
    pub manifest_problem: Option<String>,
}

impl Summary {
    /// Whether `out/` already holds exactly the planned files.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.changed == 0 && self.orphaned == 0 && self.leftovers == 0 && !self.manifest_stale
    }
}

/// Brings `out` in line with the planned files (or compares, in [`Mode::Check`]). The files come
/// in `steps`, each step's `paths` without rendering (to find orphans and files in the way before
/// anything is written), then rendered by `render` a batch of steps at a time on every core, so
/// that memory holds one batch, not the catalog; `render` gets a state of its own on each thread
/// (`C::default()` for each chunk of a batch). `sink` gets every difference as it is found.
///
/// # Errors
/// When `out` cannot be read or written, another compile holds it, a planned path holds a file
/// dlspec does not own (unless forced) or a FIFO or other special file, or `render` fails. Up to
/// the first rename into `out/` (every render done), an error leaves `out/` as it was; after it
/// (an I/O error), the journal owns what was renamed, and the next compile finishes the work.
pub fn sync<'r, T: Sync, C: Default>(
    out: &Utf8Path,
    mode: Mode,
    steps: &[T],
    paths: impl Fn(&T) -> Vec<Utf8PathBuf>,
    render: impl Fn(&T, &mut C) -> Result<Vec<(Utf8PathBuf, Content<'r>)>, Error> + Sync,
    sink: &mut dyn FnMut(FileReport),
) -> Result<Summary, Error> {
    let mut dir = OutDir::open(out, mode)?;
    let result = sync_open(&mut dir, steps, paths, render, sink);
    if result.is_err() {
        dir.abandon();
    }
    result
}

fn sync_open<'r, T: Sync, C: Default>(
    dir: &mut OutDir,
    steps: &[T],
    paths: impl Fn(&T) -> Vec<Utf8PathBuf>,
    render: impl Fn(&T, &mut C) -> Result<Vec<(Utf8PathBuf, Content<'r>)>, Error> + Sync,
    sink: &mut dyn FnMut(FileReport),
) -> Result<Summary, Error> {
    // What a batch holds until it is reported: the outcome of each file (its path and hash).
    const BATCH: usize = 256;
    // Steps a core takes at a time: consecutive steps are mostly of one spec file, decoded once.
    const RUN: usize = 8;
    let (out, mode) = (dir.out.clone(), dir.mode);
    let writing = matches!(mode, Mode::Write { .. });
    let mut summary = Summary { manifest_problem: dir.manifest_problem.clone(), ..Summary::default() };
    if !writing {
        for path in std::mem::take(&mut dir.leftovers) {
            summary.leftovers += 1;
            sink(FileReport { path, state: Change::Leftover, diff: None });
        }
    }
    dir.mark_planned(steps, &paths)?;
    if writing {
        dir.prepare_work_dir()?;
    } else {
        summary.orphaned = dir.orphans(sink)?;
    }
    let mut manifest = dir.new_manifest()?;
    // The temporary files of older versions found beside generated files: removed with the rest.
    let mut old_temp_files = Vec::new();
    for batch in steps.chunks(BATCH) {
        // The cores take runs of consecutive steps as they finish the last, so that a slow step
        // (a catalog file) does not leave the other cores idle until the batch ends.
        let shared: &OutDir = dir;
        let applied = crate::parallel::queue(
            batch,
            crate::parallel::cores(),
            RUN,
            || (Worker { dir: shared, resolver: Resolver::new(&out), block: Vec::new() }, C::default()),
            |step, (worker, state)| render(step, state).and_then(|files| worker.apply(files)),
        );
        for result in applied {
            let (outcomes, leftovers) = result?;
            for path in leftovers {
                summary.leftovers += 1;
                sink(FileReport { path: path.clone(), state: Change::Leftover, diff: None });
                old_temp_files.push(path);
            }
            for outcome in outcomes {
                manifest.add(&outcome.path, &outcome.hash)?;
                summary.files += 1;
                let Some(report) = outcome.report else {
                    summary.unchanged += 1;
                    continue;
                };
                summary.changed += 1;
                if writing {
                    dir.journal(&outcome.path, &outcome.hash)?;
                    summary.written += 1;
                }
                sink(report);
            }
        }
    }
    if writing {
        dir.commit(&old_temp_files)?;
        summary.orphaned = dir.orphans(sink)?;
    }
    summary.manifest_stale = dir.finish(manifest)?;
    Ok(summary)
}

/// The first 16 bytes of a sha256: enough to tell contents apart, half the memory per entry.
type Digest16 = [u8; 16];

fn digest16(hash: &[u8]) -> Digest16 {
    hash[..16].try_into().expect("a sha256 has 32 bytes")
}

/// A path's key in the ownership map: 128 bits of two SipHashes, so that the map does not hold
/// the paths (50,000 images have 750,000 of them); bytes, so that an entry is not padded to 16.
type Key = [u8; 16];

fn key(path: &Utf8Path) -> Key {
    let mut first = DefaultHasher::new();
    first.write(path.as_str().as_bytes());
    let mut second = DefaultHasher::new();
    second.write_u8(0xa5);
    second.write(path.as_str().as_bytes());
    ((u128::from(first.finish()) << 64) | u128::from(second.finish())).to_le_bytes()
}

/// What the manifest and the journal say about one path. The journal may record a path more than
/// once (compiles killed one after another), and each of its hashes is dlspec's.
#[derive(Debug, Clone, Default)]
struct Owned {
    manifest: Option<Digest16>,
    journal: Vec<Digest16>,
}

impl Owned {
    fn recorded(&self, digest: &Digest16) -> bool {
        self.manifest.as_ref() == Some(digest) || self.journal.contains(digest)
    }
}

/// Which paths the manifest and the journal own, by key, and which of them this run has done
/// with (planned, or handled as an orphan). The manifest's records (750,000 at 50,000 images) are
/// a sorted vector, 32 bytes a record where a hash map took over 70 while it grew, with where
/// each range of key prefixes starts (4 bytes per 4 records); the journal's (what a killed
/// compile was writing) are a map.
#[derive(Debug, Default)]
struct Ownership {
    manifest: Vec<(Key, Digest16)>,
    manifest_done: Vec<bool>,
    /// `starts[b]`: the first record whose key's first `bucket_bits` bits are `b` or more.
    starts: Vec<u32>,
    bucket_bits: u32,
    journal: HashMap<Key, (Vec<Digest16>, bool)>,
}

/// A key's first 64 bits, as a number that sorts as the key does.
fn key_prefix(key: &Key) -> u64 {
    u64::from_be_bytes(key[..8].try_into().expect("keys have 16 bytes"))
}

impl Ownership {
    /// Sorts the manifest's records once they are all read (in place: a stable sort's buffer
    /// would take half as much again) and indexes them; a manifest that lists a path twice was not
    /// written by dlspec, and is unusable.
    fn seal_manifest(&mut self) -> Result<(), String> {
        self.manifest.sort_unstable_by_key(|(key, _)| *key);
        if self.manifest.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("lists a path twice".to_owned());
        }
        self.manifest.shrink_to_fit();
        self.manifest_done = vec![false; self.manifest.len()];
        // The keys are hashes, spread evenly: about four records per bucket.
        self.bucket_bits = (self.manifest.len() / 4).max(1).ilog2();
        let buckets = 1_usize << self.bucket_bits;
        self.starts = Vec::with_capacity(buckets + 1);
        let mut at = 0;
        for bucket in 0..buckets {
            while at < self.manifest.len() && self.bucket(&self.manifest[at].0) < bucket {
                at += 1;
            }
            self.starts.push(u32::try_from(at).map_err(|_| "has too many lines".to_owned())?);
        }
        self.starts.push(u32::try_from(self.manifest.len()).map_err(|_| "has too many lines".to_owned())?);
        Ok(())
    }

    fn bucket(&self, key: &Key) -> usize {
        usize::try_from(key_prefix(key).checked_shr(64 - self.bucket_bits).unwrap_or(0))
            .expect("a bucket number fits in usize")
    }

    /// Where `key` is in the manifest: a search of its bucket, a cache miss or two where halving
    /// took twenty at 750,000 records.
    fn find(&self, key: &Key) -> Option<usize> {
        if self.manifest.is_empty() {
            return None;
        }
        let bucket = self.bucket(key);
        let (low, high) = (self.starts[bucket] as usize, self.starts[bucket + 1] as usize);
        self.manifest[low..high].binary_search_by_key(key, |(k, _)| *k).ok().map(|at| low + at)
    }

    fn get(&self, key: &Key) -> Option<Owned> {
        let manifest = self.find(key).map(|at| self.manifest[at].1);
        let journal = self.journal.get(key).map(|(digests, _)| digests.clone());
        (manifest.is_some() || journal.is_some()).then(|| Owned { manifest, journal: journal.unwrap_or_default() })
    }

    /// Marks `key` done; returns what owned it, and whether it was done already.
    fn mark(&mut self, key: &Key) -> Option<(Owned, bool)> {
        let owned = self.get(key)?;
        let mut was_done = true;
        if let Some(at) = self.find(key) {
            was_done &= std::mem::replace(&mut self.manifest_done[at], true);
        }
        if let Some((_, done)) = self.journal.get_mut(key) {
            was_done &= std::mem::replace(done, true);
        }
        Some((owned, was_done))
    }
}

/// `out/` while a run works on it.
struct OutDir {
    out: Utf8PathBuf,
    mode: Mode,
    owned: Ownership,
    /// The sha256 of the manifest, when it was usable.
    manifest_digest: Option<[u8; 32]>,
    manifest_problem: Option<String>,
    /// Whether the journal owns any file.
    journal_found: bool,
    /// How much of the journal an interrupted compile left that is kept: its whole records.
    journal_kept: u64,
    leftovers: Vec<Utf8PathBuf>,
    /// Whether `out/` and its working folder were there before this run.
    out_existed: bool,
    work_existed: bool,
    /// Open for appending while writing.
    journal: Option<BufWriter<File>>,
    /// Whether the staged files were renamed into `out/` (then an error leaves the work to the
    /// journal).
    committing: bool,
    /// Whether files created with a mode keep it (the umask takes no bit of 0755).
    umask_keeps_modes: bool,
    /// Held until the run ends: shared for `--check`, exclusive for compile.
    _lock: Option<File>,
}

impl OutDir {
    fn open(out: &Utf8Path, mode: Mode) -> Result<Self, Error> {
        let io = |e: std::io::Error| Error::read(out, e);
        let writing = matches!(mode, Mode::Write { .. });
        let out_existed = std::fs::symlink_metadata(out).is_ok();
        if writing {
            std::fs::create_dir_all(out).map_err(|e| Error::create(out, e))?;
        }
        let lock = match File::open(out) {
            Ok(folder) => {
                let locked = if writing { folder.try_lock() } else { folder.try_lock_shared() };
                match locked {
                    Ok(()) => Some(folder),
                    Err(std::fs::TryLockError::WouldBlock) => return Err(Error::OutLocked { out: out.to_owned() }),
                    Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
                }
            }
            Err(e) if !writing && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let mut dir = Self {
            out: out.to_owned(),
            mode,
            owned: Ownership::default(),
            manifest_digest: None,
            manifest_problem: None,
            journal_found: false,
            journal_kept: 0,
            leftovers: Vec::new(),
            out_existed,
            work_existed: false,
            journal: None,
            committing: false,
            umask_keeps_modes: true,
            _lock: lock,
        };
        dir.load_manifest();
        dir.load_work_dir()?;
        if mode == (Mode::Write { force: false }) && dir.foreign()? {
            return Err(Error::NotGenerated {
                out: out.to_owned(),
                manifest: MANIFEST,
                problem: dir.manifest_problem.take(),
            });
        }
        Ok(dir)
    }

    fn work(&self) -> Utf8PathBuf {
        self.out.join(WORK_DIR)
    }

    fn load_manifest(&mut self) {
        let records = &mut self.owned.manifest;
        match read_records(&self.out.join(MANIFEST), false, |path, digest| records.push((key(path), digest))) {
            Records::Read(digest, _) => match self.owned.seal_manifest() {
                Ok(()) => self.manifest_digest = Some(digest),
                Err(problem) => {
                    self.owned = Ownership::default();
                    self.manifest_problem = Some(format!("`{}` {problem}; it is ignored", self.out.join(MANIFEST)));
                }
            },
            Records::Absent => {}
            Records::Unusable(problem) => {
                self.owned = Ownership::default();
                self.manifest_problem = Some(format!("`{}` {problem}; it is ignored", self.out.join(MANIFEST)));
            }
        }
    }

    /// Reads what an interrupted compile left: its journal owns files (every hash it recorded for
    /// a path), the rest is leftovers; `staged/` is one leftover, however many files it holds.
    fn load_work_dir(&mut self) -> Result<(), Error> {
        let work = self.work();
        match std::fs::symlink_metadata(&work) {
            Ok(meta) if meta.is_dir() => self.work_existed = true,
            Ok(_) => {
                self.leftovers.push(Utf8PathBuf::from(WORK_DIR));
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
        let (owned, found) = (&mut self.owned.journal, &mut self.journal_found);
        let journal = read_records(&work.join(JOURNAL), true, |path, digest| {
            let (digests, _) = owned.entry(key(path)).or_default();
            if !digests.contains(&digest) {
                digests.push(digest);
            }
            *found = true;
        });
        match journal {
            Records::Read(_, whole) => self.journal_kept = whole,
            Records::Absent => {}
            Records::Unusable(_) => {
                self.owned.journal.clear();
                self.journal_found = false;
            }
        }
        let entries = work.read_dir_utf8().map_err(|e| Error::read(&work, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&work, e))?;
            self.leftovers.push(Utf8Path::new(WORK_DIR).join(entry.file_name()));
        }
        self.leftovers.sort();
        Ok(())
    }

    /// Whether `out` holds files but nothing says dlspec wrote any of them.
    fn foreign(&self) -> Result<bool, Error> {
        if self.manifest_digest.is_some() || self.journal_found {
            return Ok(false);
        }
        let entries = self.out.read_dir_utf8().map_err(|e| Error::read(&self.out, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&self.out, e))?;
            if entry.file_name() != WORK_DIR {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Empties the working folder but for the journal (the staged and temporary files of a killed
    /// compile are not needed), cuts the journal to its whole records (a killed compile may have
    /// cut the last one short) and opens it for appending, and makes the folder of staged files.
    fn prepare_work_dir(&mut self) -> Result<(), Error> {
        let work = self.work();
        let io = |e: std::io::Error| Error::Prepare { path: work.clone(), source: e };
        match std::fs::symlink_metadata(&work) {
            Ok(meta) if meta.is_dir() => {
                for entry in work.read_dir_utf8().map_err(io)? {
                    let path = entry.map_err(io)?.into_path();
                    match std::fs::symlink_metadata(&path) {
                        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path).map_err(io)?,
                        Ok(_) if path.file_name() != Some(JOURNAL) => std::fs::remove_file(&path).map_err(io)?,
                        _ => {}
                    }
                }
            }
            Ok(_) => std::fs::remove_file(&work).map_err(io)?,
            Err(_) => {}
        }
        if let Err(e) = std::fs::create_dir(&work)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(io(e));
        }
        std::fs::create_dir(work.join(STAGED)).map_err(io)?;
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        nofollow(&mut options);
        let journal = options.open(work.join(JOURNAL)).map_err(io)?;
        journal.set_len(self.journal_kept).map_err(io)?;
        self.journal = Some(BufWriter::with_capacity(1 << 16, journal));
        // A umask such as 077 takes bits of the modes files are created with: then each new file
        // also gets an explicit chmod.
        let probe = work.join("mode-probe");
        create_new(&probe, true).map_err(io)?;
        self.umask_keeps_modes = std::fs::symlink_metadata(&probe).is_ok_and(|m| mode_is(&m, true));
        std::fs::remove_file(&probe).map_err(io)?;
        Ok(())
    }

    /// Where the file staged for `path` is.
    fn staged(&self, path: &Utf8Path) -> Utf8PathBuf {
        self.work().join(STAGED).join(hex(&key(path)))
    }

    /// Records a staged file in the journal, before any is renamed into `out/`.
    fn journal(&mut self, path: &Utf8Path, hash: &str) -> Result<(), Error> {
        let Some(journal) = self.journal.as_mut() else { return Ok(()) };
        for part in [hash, "  ", path.as_str(), "\n"] {
            journal.write_all(part.as_bytes()).map_err(|e| Error::write(self.out.join(WORK_DIR).join(JOURNAL), e))?;
        }
        Ok(())
    }

    /// Renames every staged file into place (this run's records of the journal, after those an
    /// interrupted compile left, read back a batch at a time and renamed on every core), and
    /// removes the temporary files of older versions.
    fn commit(&mut self, old_temp_files: &[Utf8PathBuf]) -> Result<(), Error> {
        const BATCH: usize = 4096;
        let journal_path = self.work().join(JOURNAL);
        let io = |e: std::io::Error| Error::write(&journal_path, e);
        if let Some(journal) = self.journal.take() {
            journal.into_inner().map_err(|e| io(e.into_error()))?;
        }
        self.committing = true;
        let this: &Self = self;
        let (mut batch, mut failure) = (Vec::with_capacity(BATCH), None);
        let read = read_records_from(&journal_path, this.journal_kept, false, |path, _| {
            if failure.is_none() {
                batch.push(path.to_owned());
                if batch.len() == BATCH {
                    failure = this.rename_staged(&std::mem::take(&mut batch)).err();
                }
            }
        });
        if let Records::Unusable(problem) = read {
            return Err(Error::Unusable { path: journal_path, problem });
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        this.rename_staged(&batch)?;
        for path in old_temp_files {
            let full = self.out.join(path);
            match std::fs::remove_file(&full) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::remove(full, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Renames the staged files of `paths` into place, with the folders they need, on every core.
    fn rename_staged(&self, paths: &[Utf8PathBuf]) -> Result<(), Error> {
        let renamed = crate::parallel::chunks(paths, 256, |chunk| {
            let mut resolver = Resolver::new(&self.out);
            for path in chunk {
                let full = self.out.join(path);
                if let Some(folder) = full.parent() {
                    resolver.make_dirs(folder)?;
                }
                std::fs::rename(self.staged(path), &full).map_err(|e| Error::write(&full, e))?;
            }
            Ok(())
        });
        renamed.into_iter().collect()
    }

    /// After an error before the first rename: removes what this run put in the working folder
    /// (the staged files, the new manifest, its records in the journal), and the working folder and
    /// `out/` themselves when this run made them, so that `out/` is as it was.
    fn abandon(&mut self) {
        if self.mode == Mode::Check || self.committing {
            return;
        }
        let work = self.work();
        let _ = std::fs::remove_dir_all(work.join(STAGED));
        let _ = std::fs::remove_file(work.join(NEW_MANIFEST));
        self.journal = None;
        if self.journal_kept > 0 {
            let journal = OpenOptions::new().write(true).open(work.join(JOURNAL));
            let _ = journal.and_then(|file| file.set_len(self.journal_kept));
        } else {
            let _ = std::fs::remove_file(work.join(JOURNAL));
        }
        if !self.work_existed {
            let _ = std::fs::remove_dir(&work);
        }
        if !self.out_existed {
            let _ = std::fs::remove_dir(&self.out);
        }
    }

    /// Marks every planned path. When writing without `--force`, refuses before anything is
    /// written if a planned path holds something dlspec does not own.
    fn mark_planned<T>(&mut self, steps: &[T], paths: impl Fn(&T) -> Vec<Utf8PathBuf>) -> Result<(), Error> {
        let refuse = self.mode == (Mode::Write { force: false });
        let mut resolver = Resolver::new(&self.out);
        let mut in_the_way = Vec::new();
        for step in steps {
            for path in paths(step) {
                match self.owned.mark(&key(&path)) {
                    Some(_) => {}
                    None if refuse => {
                        let (full, meta) = resolver.file(&path)?;
                        if meta.is_ok() {
                            in_the_way.push(full);
                        }
                    }
                    None => {}
                }
            }
        }
        if in_the_way.is_empty() {
            return Ok(());
        }
        Err(Error::Foreign { manifest: self.out.join(MANIFEST), paths: in_the_way })
    }

    /// Finds the files the manifest and the journal own that no step produces now: removes those
    /// still as dlspec wrote them (reports them, when checking), reports the others as kept.
    fn orphans(&mut self, sink: &mut dyn FnMut(FileReport)) -> Result<usize, Error> {
        // Their paths are read again only when there are any: the records hold no paths.
        if self.owned.manifest_done.iter().all(|done| *done) && self.owned.journal.values().all(|(_, done)| *done) {
            return Ok(0);
        }
        let mut resolver = Resolver::new(&self.out);
        let mut orphaned = 0;
        let mut failure = None;
        for (records, tolerant) in [(self.out.join(MANIFEST), false), (self.work().join(JOURNAL), true)] {
            let (owned, out, mode) = (&mut self.owned, &self.out, self.mode);
            read_records(&records, tolerant, |path, _| {
                let Some((entry, false)) = owned.mark(&key(path)) else {
                    return;
                };
                if failure.is_some() {
                    return;
                }
                match orphan_state(&mut resolver, path, &entry) {
                    Ok(None) => {}
                    Ok(Some(Change::Orphaned)) => {
                        if matches!(mode, Mode::Write { .. }) {
                            let full = out.join(path);
                            if let Err(e) = std::fs::remove_file(&full) {
                                failure = Some(Error::remove(full, e));
                                return;
                            }
                            remove_empty_parents(out, &full);
                            resolver.forget();
                        }
                        orphaned += 1;
                        sink(FileReport { path: path.to_owned(), state: Change::Orphaned, diff: None });
                    }
                    Ok(Some(state)) => sink(FileReport { path: path.to_owned(), state, diff: None }),
                    Err(e) => failure = Some(e),
                }
            });
        }
        failure.map_or(Ok(orphaned), Err)
    }

    fn new_manifest(&self) -> Result<NewManifest, Error> {
        let file = match self.mode {
            Mode::Check => None,
            Mode::Write { .. } => {
                let path = self.work().join(NEW_MANIFEST);
                let file = create_new(&path, false).map_err(|e| Error::write(&path, e))?;
                Some((BufWriter::with_capacity(1 << 16, file), path))
            }
        };
        Ok(NewManifest { file, hasher: Sha256::new() })
    }

    /// Puts the new manifest in place (unless it is the same) and removes the working folder.
    /// Returns whether the old manifest differed.
    fn finish(&mut self, manifest: NewManifest) -> Result<bool, Error> {
        let digest: [u8; 32] = manifest.hasher.finalize().into();
        let stale = self.manifest_digest != Some(digest);
        let Some((file, path)) = manifest.file else {
            return Ok(stale);
        };
        let io = |e: std::io::Error| Error::write(&path, e);
        file.into_inner().map_err(|e| io(e.into_error()))?;
        if stale {
            std::fs::rename(&path, self.out.join(MANIFEST)).map_err(io)?;
        } else {
            std::fs::remove_file(&path).map_err(io)?;
        }
        let work = self.work();
        self.journal = None;
        std::fs::remove_file(work.join(JOURNAL)).map_err(io)?;
        for folder in [work.join(STAGED), work] {
            std::fs::remove_dir(&folder).map_err(|e| Error::remove(&folder, e))?;
        }
        Ok(stale)
    }
}

/// Whether an owned path that no step produces is an orphan to remove, a file to keep, or gone.
fn orphan_state(resolver: &mut Resolver, path: &Utf8Path, owned: &Owned) -> Result<Option<Change>, Error> {
    let Ok((full, meta)) = resolver.file(path) else {
        // A symlink on the way: what is behind it is not dlspec's.
        return Ok(Some(Change::Kept));
    };
    match meta {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read(full, e)),
        Ok(meta) if !meta.is_file() || meta.len() > FILE_LIMIT => return Ok(Some(Change::Kept)),
        Ok(_) => {}
    }
    let Some((file, _)) = open_regular(&full).map_err(|e| Error::read(&full, e))? else {
        return Ok(Some(Change::Kept));
    };
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT).read_to_end(&mut bytes).map_err(|e| Error::read(&full, e))?;
    let unchanged = owned.recorded(&digest16(&Sha256::digest(&bytes)));
    // Older versions created a new file before writing it: killed in between, they left it empty,
    // and only their journal knew it. Removing it loses nothing.
    let created_unwritten = bytes.is_empty() && owned.manifest.is_none() && !owned.journal.is_empty();
    Ok(Some(if unchanged || created_unwritten { Change::Orphaned } else { Change::Kept }))
}

/// The manifest this run makes, hashed as it grows and, when writing, streamed to the working
/// folder.
struct NewManifest {
    file: Option<(BufWriter<File>, Utf8PathBuf)>,
    hasher: Sha256,
}

impl NewManifest {
    fn add(&mut self, path: &Utf8Path, hash: &str) -> Result<(), Error> {
        for part in [hash, "  ", path.as_str(), "\n"] {
            self.hasher.update(part.as_bytes());
            if let Some((file, name)) = &mut self.file {
                file.write_all(part.as_bytes()).map_err(|e| Error::write(name.as_path(), e))?;
            }
        }
        Ok(())
    }
}

/// One planned file after [`Worker::apply`]: how it differs, when it does (then it is staged,
/// when writing).
struct Outcome {
    path: Utf8PathBuf,
    hash: String,
    report: Option<FileReport>,
}

/// Compares and writes the files of a chunk of steps, on one thread.
struct Worker<'a> {
    dir: &'a OutDir,
    resolver: Resolver<'a>,
    /// The buffer files are compared in.
    block: Vec<u8>,
}

/// What each listed folder holds (relative to `out/`): its entries' types by name.
type Listings = HashMap<String, HashMap<String, FileType>>;

impl Worker<'_> {
    /// Compares one step's files with `out/` and, when writing, stages those that differ; returns
    /// them, and the temporary files of older versions found beside them (removed when the
    /// staged files are put in place).
    fn apply(&mut self, files: Vec<(Utf8PathBuf, Content<'_>)>) -> Result<(Vec<Outcome>, Vec<Utf8PathBuf>), Error> {
        let checking = self.dir.mode == Mode::Check;
        let mut outcomes = Vec::with_capacity(files.len());
        let (listings, leftovers) = self.list(files.iter().filter_map(|(path, _)| path.parent()).collect())?;
        for (path, content) in files {
            let owned = self.dir.owned.get(&key(&path));
            let owned = owned.as_ref();
            let full = self.dir.out.join(&path);
            let found_type = path
                .parent()
                .and_then(|folder| listings.get(folder.as_str()))
                .and_then(|listing| listing.get(path.file_name()?).copied());
            if found_type.is_some_and(|t| t.is_symlink()) {
                return Err(symlink(&full));
            }
            let (hex, found) = match &content {
                Content::File(file) => {
                    let hex = hex(&Sha256::digest(&file.bytes));
                    let found =
                        classify(&full, found_type, file, owned, checking, &mut self.block)?.map(|(state, old)| {
                            let diff = match (&old, state) {
                                (Some(old), Change::Stale | Change::Edited) if checking => {
                                    Some(unified(&path, old, &file.bytes, 40))
                                }
                                _ => None,
                            };
                            (state, diff)
                        });
                    (hex, found)
                }
                Content::Streamed { executable, render } => {
                    classify_streamed(&path, &full, found_type, *executable, render.as_ref(), owned, checking)?
                }
            };
            let Some((state, diff)) = found else {
                outcomes.push(Outcome { path, hash: hex, report: None });
                continue;
            };
            if !checking {
                match state {
                    Change::Special => return Err(Error::SpecialInOut { path: full, generated: path }),
                    Change::Foreign if self.dir.mode == (Mode::Write { force: false }) => {
                        return Err(Error::Appeared { path: full });
                    }
                    _ => self.stage(&path, &content)?,
                }
            }
            outcomes.push(Outcome { path: path.clone(), hash: hex, report: Some(FileReport { path, state, diff }) });
        }
        Ok((outcomes, leftovers))
    }

    /// Lists each of `folders` (relative to `out/`) once: what each holds, by name (so that a
    /// planned file needs no `lstat` of its own), and the temporary files that older dlspec
    /// versions (before `.dlspec-tmp/`) created beside the file they replaced (`.dlspec-` and six
    /// letters or digits): a killed compile left them where `COPY init/` ships them. A folder that
    /// is not there yet holds nothing.
    fn list(&mut self, mut folders: Vec<&Utf8Path>) -> Result<(Listings, Vec<Utf8PathBuf>), Error> {
        folders.sort_unstable();
        folders.dedup();
        let (mut listings, mut leftovers) = (HashMap::with_capacity(folders.len()), Vec::new());
        for folder in folders {
            let Some(full) = self.resolver.folder(folder)? else { continue };
            let io = |e: std::io::Error| Error::read(&full, e);
            let entries = match full.read_dir_utf8() {
                // `out/` itself, when checking before the first compile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                entries => entries.map_err(io)?,
            };
            let mut listing = HashMap::new();
            for entry in entries {
                let entry = entry.map_err(io)?;
                let file_type = entry.file_type().map_err(io)?;
                if is_old_temp_name(entry.file_name()) && file_type.is_file() {
                    leftovers.push(folder.join(entry.file_name()));
                } else {
                    if file_type.is_dir() {
                        // A folder, not a symlink to one: the folders below need no `lstat`.
                        self.resolver.folders.insert(full.join(entry.file_name()).into_string(), true);
                    }
                    listing.insert(entry.file_name().to_owned(), file_type);
                }
            }
            listings.insert(folder.to_string(), listing);
        }
        Ok((listings, leftovers))
    }

    /// Writes a file's new content, with its final mode, to the working folder, where it waits
    /// until every file is rendered.
    fn stage(&self, path: &Utf8Path, content: &Content<'_>) -> Result<(), Error> {
        let staged = self.dir.staged(path);
        let io = |e: std::io::Error| Error::write(&staged, e);
        let mut created = create_new(&staged, content.executable()).map_err(io)?;
        content.write_into(&mut created, &staged).map_err(|e| match e {
            Error::Write { .. } => e,
            e => Error::Rendering { path: self.dir.out.join(path), error: Box::new(e) },
        })?;
        if !self.dir.umask_keeps_modes {
            set_file_mode(&created, content.executable()).map_err(io)?;
        }
        Ok(())
    }
}

/// Whether `name` is a temporary file name of older dlspec versions: `.dlspec-` and six ASCII
/// letters or digits (never a name dlspec generates or reserves).
fn is_old_temp_name(name: &str) -> bool {
    name.strip_prefix(".dlspec-").is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// How a file differs, and its content when it was read.
type Difference = (Change, Option<Vec<u8>>);

/// How the file at `full` (of type `found`, from its folder's listing; `None` when it is not
/// there) differs from `planned`, and its content when it was read; `None` when it does not
/// differ. Only regular files are opened, and read only when the size matches or the manifest's
/// hash is needed to tell a hand edit from a stale file (or, with `want_old`, for a diff).
/// `block` is the buffer the file is read into, a block at a time.
fn classify(
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
fn classify_streamed(
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
        Some(unified(path, &old, &new, 40))
    } else {
        None
    };
    Ok((hex, Some((state, diff))))
}

/// A writer that hashes what is written and compares it with a file read alongside.
struct Compare {
    new: Sha256,
    new_len: u64,
    old: Option<BufReader<std::io::Take<File>>>,
    old_hash: Sha256,
    /// Whether everything so far matched the file.
    equal: bool,
    block: Vec<u8>,
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
    fn finish(mut self) -> std::io::Result<([u8; 32], u64, bool, [u8; 32])> {
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

/// What reading a manifest or journal gave.
enum Records {
    Absent,
    /// Read: the sha256 of its bytes, and how many bytes its whole records take (all of them, but
    /// for a last line cut short that was skipped).
    Read([u8; 32], u64),
    Unusable(String),
}

/// Reads `<sha256>  <path>` lines, giving each to `each`, without ever blocking on a FIFO or
/// holding more than a line. `tolerant`: a last line cut short (a journal whose writer was killed)
/// is skipped instead of making the whole file unusable.
fn read_records(path: &Utf8Path, tolerant: bool, each: impl FnMut(&Utf8Path, Digest16)) -> Records {
    read_records_from(path, 0, tolerant, each)
}

/// As [`read_records`], from byte `from` on (a record's start).
fn read_records_from(path: &Utf8Path, from: u64, tolerant: bool, mut each: impl FnMut(&Utf8Path, Digest16)) -> Records {
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
fn parse_record(line: &[u8]) -> Option<(&Utf8Path, Digest16)> {
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

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(2 * bytes.len());
    for b in bytes {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// Turns paths relative to `out/` into real ones, refusing any symlink on the way so that nothing
/// is read or written outside `out/`. It remembers which folders it found to be real folders (or
/// missing), so each folder is looked at once per run, not once per file below it.
struct Resolver<'a> {
    out: &'a Utf8Path,
    /// By path as text: a `Path`'s hash walks its components.
    folders: HashMap<String, bool>,
}

impl<'a> Resolver<'a> {
    fn new(out: &'a Utf8Path) -> Self {
        Self { out, folders: HashMap::new() }
    }

    /// `out/relative` and its `lstat`.
    fn file(&mut self, relative: &Utf8Path) -> Result<(Utf8PathBuf, std::io::Result<Metadata>), Error> {
        let plain = relative.components().all(|c| matches!(c, camino::Utf8Component::Normal(_)));
        let (Some(folder), Some(_), true) = (relative.parent(), relative.file_name(), plain) else {
            return Err(Error::RefusedOutputPath { path: relative.to_owned() });
        };
        let full = self.out.join(relative);
        if self.folder(folder)?.is_none() {
            return Ok((full, Err(std::io::ErrorKind::NotFound.into())));
        }
        let meta = std::fs::symlink_metadata(&full);
        if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(symlink(&full));
        }
        Ok((full, meta))
    }

    /// `out/relative` when it is a folder reached without a symlink; `None` when it, or a folder
    /// above it, is missing.
    fn folder(&mut self, relative: &Utf8Path) -> Result<Option<Utf8PathBuf>, Error> {
        let full = self.out.join(relative);
        // Known: the folders above it were looked at when it was.
        match self.folders.get(full.as_str()) {
            Some(true) => return Ok(Some(full)),
            Some(false) => return Ok(None),
            None => {}
        }
        let mut current = self.out.to_path_buf();
        for component in relative.components() {
            if !matches!(component, camino::Utf8Component::Normal(_)) {
                return Err(Error::RefusedOutputPath { path: relative.to_owned() });
            }
            current.push(component);
            match self.folders.get(current.as_str()) {
                Some(true) => continue,
                Some(false) => return Ok(None),
                None => {}
            }
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(symlink(&current)),
                Ok(meta) if meta.is_dir() => {
                    self.folders.insert(current.to_string(), true);
                }
                Ok(_) => return Err(Error::FileInTheWay { path: current }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.folders.insert(current.to_string(), false);
                    return Ok(None);
                }
                Err(e) => return Err(Error::read(current, e)),
            }
        }
        Ok(Some(current))
    }

    /// Creates `dir` and the folders above it that are not known to exist, top down, one `mkdir`
    /// each.
    fn make_dirs(&mut self, dir: &Utf8Path) -> Result<(), Error> {
        let relative = dir.strip_prefix(self.out).expect("output folders are inside out/");
        let mut current = self.out.to_path_buf();
        for component in relative.components() {
            current.push(component);
            if self.folders.get(current.as_str()) == Some(&true) {
                continue;
            }
            match std::fs::create_dir(&current) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let meta = std::fs::symlink_metadata(&current).map_err(|e| Error::create(&current, e))?;
                    if meta.file_type().is_symlink() {
                        return Err(symlink(&current));
                    }
                    if !meta.is_dir() {
                        return Err(Error::FileInTheWay { path: current });
                    }
                }
                Err(e) => return Err(Error::create(current, e)),
            }
            self.folders.insert(current.to_string(), true);
        }
        Ok(())
    }

    /// Forgets every folder (after removing some).
    fn forget(&mut self) {
        self.folders.clear();
    }
}

fn symlink(path: &Utf8Path) -> Error {
    Error::SymlinkInOut { path: path.to_owned() }
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    type Files = Vec<(Utf8PathBuf, PlannedFile)>;
    type Reports = Vec<(String, &'static str)>;

    fn files(list: &[(&str, &str, bool)]) -> Files {
        list.iter()
            .map(|(p, text, executable)| {
                (Utf8PathBuf::from(p), PlannedFile { bytes: text.as_bytes().to_vec(), executable: *executable })
            })
            .collect()
    }

    #[test]
    fn every_manifest_record_is_found_and_no_other() {
        for count in [0, 1, 2, 9, 10, 1000, 20_000] {
            let mut owned = Ownership::default();
            let paths: Vec<String> = (0..count).map(|i| format!("img{i}/Dockerfile")).collect();
            owned.manifest = paths.iter().map(|p| (key(Utf8Path::new(p)), [0; 16])).collect();
            owned.seal_manifest().unwrap();
            for path in &paths {
                let at = owned.find(&key(Utf8Path::new(path))).expect("a record is found");
                assert_eq!(owned.manifest[at].0, key(Utf8Path::new(path)));
            }
            for absent in ["img/README.md", "x", ""] {
                assert_eq!(owned.find(&key(Utf8Path::new(absent))), None);
            }
            // The smallest and largest keys possible bound the range without being in it.
            assert_eq!(owned.find(&[0; 16]), None);
            assert_eq!(owned.find(&[0xff; 16]), None);
        }
    }

    /// Runs `sync` with one step per file; the reports, as (path, word).
    fn run(files: &Files, out: &Utf8Path, mode: Mode) -> Result<(Summary, Reports), Error> {
        let mut reports = Vec::new();
        let summary = sync(
            out,
            mode,
            files,
            |(path, _)| vec![path.clone()],
            |(path, file), (): &mut ()| Ok(vec![(path.clone(), Content::File(file.clone()))]),
            &mut |r| reports.push((r.path.to_string(), r.state.word())),
        )?;
        reports.sort();
        Ok((summary, reports))
    }

    const WRITE: Mode = Mode::Write { force: false };

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let out = Utf8PathBuf::from_path_buf(dir.path().join("out")).unwrap();
        (dir, out)
    }

    #[test]
    fn streamed_files_are_compared_hashed_and_written_as_rendered_files_are() {
        let (_dir, out) = temp();
        let sync_streamed = |text: &str, mode: Mode| {
            let mut reports = Vec::new();
            let steps = [Utf8PathBuf::from("README.md")];
            let summary = sync(
                &out,
                mode,
                &steps,
                |path| vec![path.clone()],
                |path, (): &mut ()| {
                    let render =
                        move |w: &mut dyn Write| w.write_all(text.as_bytes()).map_err(|e| Error::write("README.md", e));
                    Ok(vec![(path.clone(), Content::Streamed { executable: false, render: Box::new(render) })])
                },
                &mut |r| reports.push((r.path.to_string(), r.state.word(), r.diff)),
            )
            .unwrap();
            (summary, reports)
        };
        let (_, reports) = sync_streamed("one\ntwo\n", WRITE);
        assert_eq!(reports[0].1, "missing");
        assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), "one\ntwo\n");
        let (summary, reports) = sync_streamed("one\ntwo\n", Mode::Check);
        assert!(summary.is_clean() && reports.is_empty(), "{reports:?}");
        // The manifest's hash is the streamed text's, as for a rendered file.
        let (summary, _) = run(&files(&[("README.md", "one\ntwo\n", false)]), &out, Mode::Check).unwrap();
        assert!(summary.is_clean(), "{summary:?}");

        let (_, reports) = sync_streamed("one\nthree\n", Mode::Check);
        let (path, word, diff) = &reports[0];
        assert_eq!((path.as_str(), *word), ("README.md", "stale"));
        assert!(diff.as_deref().is_some_and(|d| d.contains("-two") && d.contains("+three")), "{diff:?}");
        std::fs::write(out.join("README.md"), "by hand\n").unwrap();
        assert_eq!(sync_streamed("one\ntwo\n", Mode::Check).1[0].1, "edited");
        sync_streamed("one\nthree\n", WRITE);
        assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), "one\nthree\n");
        assert!(sync_streamed("one\nthree\n", Mode::Check).0.is_clean());
    }

    #[test]
    fn files_larger_than_the_read_limit_are_compared_a_block_at_a_time() {
        // The catalog files of 50,000 images pass 16 MiB; they are up to date when they match.
        let (_dir, out) = temp();
        let big = "x".repeat(usize::try_from(FILE_LIMIT).unwrap() + 100);
        let mut changed = big.clone();
        changed.replace_range(big.len() - 2.., "y\n");
        let planned =
            vec![(Utf8PathBuf::from("docker-bake.hcl"), PlannedFile { bytes: big.into_bytes(), executable: false })];
        run(&planned, &out, WRITE).unwrap();
        let (summary, _) = run(&planned, &out, Mode::Check).unwrap();
        assert!(summary.is_clean() && summary.unchanged == 1, "{summary:?}");
        let changed = vec![(
            Utf8PathBuf::from("docker-bake.hcl"),
            PlannedFile { bytes: changed.into_bytes(), executable: false },
        )];
        let (summary, reports) = run(&changed, &out, Mode::Check).unwrap();
        assert_eq!(reports, [("docker-bake.hcl".to_owned(), "stale")], "{summary:?}");
    }

    #[test]
    fn check_tells_every_kind_of_change_and_compile_repairs_them() {
        let (_dir, out) = temp();
        let first = files(&[
            ("a/run.sh", "echo\n", true),
            ("a/same-size.txt", "one\n", false),
            ("a/other-size.txt", "one\n", false),
            ("a/edited-same.txt", "one\n", false),
            ("a/edited-other.txt", "one\n", false),
            ("b/c/deep.txt", "deep\n", false),
            ("gone.txt", "old\n", false),
            ("top.txt", "top\n", false),
        ]);
        let (summary, reports) = run(&first, &out, Mode::Check).unwrap();
        assert_eq!((summary.changed, reports.len()), (8, 8));
        assert!(reports.iter().all(|(_, w)| *w == "missing"));
        run(&first, &out, WRITE).unwrap();
        let (summary, _) = run(&first, &out, Mode::Check).unwrap();
        assert!(summary.is_clean() && summary.unchanged == 8, "{summary:?}");
        assert!(!out.join(WORK_DIR).exists());

        std::fs::set_permissions(out.join("a/run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(out.join("a/edited-same.txt"), "two\n").unwrap();
        std::fs::write(out.join("a/edited-other.txt"), "longer\n").unwrap();
        std::fs::remove_dir_all(out.join("b")).unwrap();
        let second = files(&[
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
        let (summary, reports) = run(&second, &out, Mode::Check).unwrap();
        assert_eq!(reports, expected.map(|(p, w)| (p.to_owned(), w)));
        assert_eq!(summary.unchanged, 1);
        let (summary, _) = run(&second, &out, WRITE).unwrap();
        assert_eq!((summary.written, summary.orphaned), (6, 1));
        assert!(run(&second, &out, Mode::Check).unwrap().0.is_clean());
        assert_eq!(std::fs::metadata(out.join("a/run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn a_folder_emptied_by_an_orphan_is_created_again() {
        let (_dir, out) = temp();
        run(&files(&[("x/a.txt", "a\n", false)]), &out, WRITE).unwrap();
        // `x/a.txt` goes first, and `x/` with it; then `x/b.txt` and `x/c/d.txt` need it again.
        let second = files(&[("x/b.txt", "b\n", false), ("x/c/d.txt", "d\n", false)]);
        run(&second, &out, WRITE).unwrap();
        assert!(!out.join("x/a.txt").exists());
        assert_eq!(std::fs::read_to_string(out.join("x/b.txt")).unwrap(), "b\n");
        assert_eq!(std::fs::read_to_string(out.join("x/c/d.txt")).unwrap(), "d\n");
        assert!(run(&second, &out, Mode::Check).unwrap().0.is_clean());
    }

    #[test]
    fn symlinks_are_refused_as_files_and_as_folders() {
        let (dir, out) = temp();
        let planned = files(&[("a/b/file.txt", "x\n", false), ("z.txt", "z\n", false)]);
        run(&planned, &out, WRITE).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("file.txt"), "x\n").unwrap();

        std::fs::remove_file(out.join("z.txt")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("file.txt"), out.join("z.txt")).unwrap();
        let error = run(&planned, &out, Mode::Check).unwrap_err().to_string();
        assert!(error.contains("z.txt` is a symlink"), "{error}");

        std::fs::remove_file(out.join("z.txt")).unwrap();
        std::fs::remove_dir_all(out.join("a/b")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("a/b")).unwrap();
        let error = run(&planned, &out, Mode::Check).unwrap_err().to_string();
        assert!(error.contains("a/b` is a symlink"), "{error}");
    }

    #[test]
    fn manifest_lines_must_be_a_hash_and_a_plain_relative_path() {
        let hash = "ab".repeat(32);
        assert!(parse_record(format!("{hash}  a/b.txt").as_bytes()).is_some());
        for bad in [
            format!("{hash}  /etc/passwd"),
            format!("{hash}  a/../../b"),
            format!("{hash}  ./a"),
            format!("{hash}  "),
            format!("{}  a", "AB".repeat(32)),
            format!("{}  a", "ab".repeat(31)),
            format!("{hash} a"),
        ] {
            assert!(parse_record(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_unusable_manifest_owns_nothing() {
        let (_dir, out) = temp();
        let planned = files(&[("a.txt", "new\n", false)]);
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("a.txt"), "mine\n").unwrap();
        let mine = hex(&Sha256::digest(b"mine\n"));
        let twice = format!("{mine}  a.txt\n{mine}  a.txt\n");
        for manifest in ["", "garbage\n", &format!("{}  a.txt", "0".repeat(64)), &twice] {
            std::fs::write(out.join(MANIFEST), manifest).unwrap();
            let error = run(&planned, &out, WRITE).unwrap_err().to_string();
            assert!(error.contains("--force"), "{manifest:?}: {error}");
            assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "mine\n");
        }
    }
}

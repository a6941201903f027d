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

mod compare;
mod diff;
mod outdir;
mod ownership;
mod records;
mod resolver;
mod worker;

use std::fs::File;
use std::io::{BufWriter, Write};

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use self::outdir::OutDir;
use self::resolver::Resolver;
use self::worker::Worker;
use crate::error::Error;
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
    /// For `--check` of a stale or edited file: a unified diff, cut to 40 lines: of a stale file
    /// from the file to the planned one, of an edited one from the planned one to the file.
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

#[cfg(all(test, unix))]
mod tests;

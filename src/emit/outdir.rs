//! `out/` while a run works on it: its lock, what it owns, its working folder and journal, the
//! renames that put staged files in place, the orphans, and the new manifest.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read as _, Write as _};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use super::ownership::{Owned, Ownership, digest16, key};
use super::records::{Records, read_records, read_records_from};
use super::resolver::Resolver;
use super::{Change, FILE_LIMIT, FileReport, JOURNAL, MANIFEST, Mode, NEW_MANIFEST, STAGED, WORK_DIR};
use crate::error::Error;
use crate::files::{create_new, mode_is, nofollow, open_regular};
use crate::values::hex;

/// `out/` while a run works on it.
pub(super) struct OutDir {
    pub(super) out: Utf8PathBuf,
    pub(super) mode: Mode,
    pub(super) owned: Ownership,
    /// The sha256 of the manifest, when it was usable.
    manifest_digest: Option<[u8; 32]>,
    pub(super) manifest_problem: Option<String>,
    /// Whether the journal owns any file.
    journal_found: bool,
    /// How much of the journal an interrupted compile left that is kept: its whole records.
    journal_kept: u64,
    pub(super) leftovers: Vec<Utf8PathBuf>,
    /// Whether `out/` and its working folder were there before this run.
    out_existed: bool,
    work_existed: bool,
    /// Open for appending while writing.
    pub(super) journal: Option<BufWriter<File>>,
    /// Whether the staged files were renamed into `out/` (then an error leaves the work to the
    /// journal).
    committing: bool,
    /// Whether files created with a mode keep it (the umask takes no bit of 0755).
    pub(super) umask_keeps_modes: bool,
    /// Held until the run ends: shared for `--check`, exclusive for compile.
    _lock: Option<File>,
}

impl OutDir {
    pub(super) fn open(out: &Utf8Path, mode: Mode) -> Result<Self, Error> {
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

    pub(super) fn work(&self) -> Utf8PathBuf {
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
    pub(super) fn foreign(&self) -> Result<bool, Error> {
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
    pub(super) fn prepare_work_dir(&mut self) -> Result<(), Error> {
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
    pub(super) fn staged(&self, path: &Utf8Path) -> Utf8PathBuf {
        self.work().join(STAGED).join(hex(&key(path)))
    }

    /// Records a staged file in the journal, before any is renamed into `out/`.
    pub(super) fn journal(&mut self, path: &Utf8Path, hash: &str) -> Result<(), Error> {
        let Some(journal) = self.journal.as_mut() else { return Ok(()) };
        for part in [hash, "  ", path.as_str(), "\n"] {
            journal.write_all(part.as_bytes()).map_err(|e| Error::write(self.out.join(WORK_DIR).join(JOURNAL), e))?;
        }
        Ok(())
    }

    /// Renames every staged file into place (this run's records of the journal, after those an
    /// interrupted compile left, read back a batch at a time and renamed on every core), and
    /// removes the temporary files of older versions.
    pub(super) fn commit(&mut self, old_temp_files: &[Utf8PathBuf]) -> Result<(), Error> {
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
    pub(super) fn abandon(&mut self) {
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
    pub(super) fn mark_planned<T>(&mut self, steps: &[T], paths: impl Fn(&T) -> Vec<Utf8PathBuf>) -> Result<(), Error> {
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
    pub(super) fn orphans(&mut self, sink: &mut dyn FnMut(FileReport)) -> Result<usize, Error> {
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

    pub(super) fn new_manifest(&self) -> Result<NewManifest, Error> {
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
    pub(super) fn finish(&mut self, manifest: NewManifest) -> Result<bool, Error> {
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
pub(super) struct NewManifest {
    pub(super) file: Option<(BufWriter<File>, Utf8PathBuf)>,
    pub(super) hasher: Sha256,
}

impl NewManifest {
    pub(super) fn add(&mut self, path: &Utf8Path, hash: &str) -> Result<(), Error> {
        for part in [hash, "  ", path.as_str(), "\n"] {
            self.hasher.update(part.as_bytes());
            if let Some((file, name)) = &mut self.file {
                file.write_all(part.as_bytes()).map_err(|e| Error::write(name.as_path(), e))?;
            }
        }
        Ok(())
    }
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

//! The work of one thread: each planned file compared with `out/` and, when writing, staged.

use std::collections::HashMap;
use std::fs::FileType;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use super::compare::{classify, classify_streamed};
use super::diff::check_diff;
use super::outdir::OutDir;
use super::ownership::key;
use super::resolver::{Resolver, symlink};
use super::{Change, Content, FileReport, Mode};
use crate::error::Error;
use crate::files::{create_new, set_file_mode};
use crate::values::hex;

/// One planned file after [`Worker::apply`]: how it differs, when it does (then it is staged,
/// when writing).
pub(super) struct Outcome {
    pub(super) path: Utf8PathBuf,
    pub(super) hash: String,
    pub(super) report: Option<FileReport>,
}

/// Compares and writes the files of a chunk of steps, on one thread.
pub(super) struct Worker<'a> {
    pub(super) dir: &'a OutDir,
    pub(super) resolver: Resolver<'a>,
    /// The buffer files are compared in.
    pub(super) block: Vec<u8>,
}

/// What each listed folder holds (relative to `out/`): its entries' types by name.
type Listings = HashMap<String, HashMap<String, FileType>>;

impl Worker<'_> {
    /// Compares one step's files with `out/` and, when writing, stages those that differ; returns
    /// them, and the temporary files of older versions found beside them (removed when the
    /// staged files are put in place).
    pub(super) fn apply(
        &mut self,
        files: Vec<(Utf8PathBuf, Content<'_>)>,
    ) -> Result<(Vec<Outcome>, Vec<Utf8PathBuf>), Error> {
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
                                    Some(check_diff(&path, state, old, &file.bytes))
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
    pub(super) fn list(&mut self, mut folders: Vec<&Utf8Path>) -> Result<(Listings, Vec<Utf8PathBuf>), Error> {
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
    pub(super) fn stage(&self, path: &Utf8Path, content: &Content<'_>) -> Result<(), Error> {
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

//! Paths relative to `out/` turned into real ones, with no symlink followed on the way.

use std::collections::HashMap;
use std::fs::Metadata;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::Error;

/// Turns paths relative to `out/` into real ones, refusing any symlink on the way so that nothing
/// is read or written outside `out/`. It remembers which folders it found to be real folders (or
/// missing), so each folder is looked at once per run, not once per file below it.
pub(super) struct Resolver<'a> {
    pub(super) out: &'a Utf8Path,
    /// By path as text: a `Path`'s hash walks its components.
    pub(super) folders: HashMap<String, bool>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(out: &'a Utf8Path) -> Self {
        Self { out, folders: HashMap::new() }
    }

    /// `out/relative` and its `lstat`.
    pub(super) fn file(&mut self, relative: &Utf8Path) -> Result<(Utf8PathBuf, std::io::Result<Metadata>), Error> {
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
    pub(super) fn folder(&mut self, relative: &Utf8Path) -> Result<Option<Utf8PathBuf>, Error> {
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
    pub(super) fn make_dirs(&mut self, dir: &Utf8Path) -> Result<(), Error> {
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
    pub(super) fn forget(&mut self) {
        self.folders.clear();
    }
}

pub(super) fn symlink(path: &Utf8Path) -> Error {
    Error::SymlinkInOut { path: path.to_owned() }
}

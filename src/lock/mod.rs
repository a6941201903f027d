//! `dlspec lock`: each image's whole Python set (platform, framework, extras) resolved once by uv,
//! for the image's Python and platform, with a sha256 for every file, recorded under
//! `<specs>/.dlspec-lock/<name>/<tag>.txt`. `compile` reads the locks offline: each pip layer
//! installs its share of the one resolution with `--no-deps --require-hashes`, so no layer can
//! move what an earlier one installed and a rebuild installs the same files.
//!
//! A lock records a hash of what its resolution depends on ([`Request::input_text`]); when the
//! spec changes that, the lock is stale: `lock --check` fails and `compile` ignores it. It also
//! records a hash of its own content, so that a pin or a hash edited by hand makes it unusable,
//! and it holds nothing but pinned requirements, their hashes and plain comments: a lock is
//! committed, and its lines reach pip.

mod command;
mod file;
mod pins;
mod uv;

use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

pub use self::command::{CheckReport, Options, Outcome, Unlocked, check, lock, unresolvable};
pub use self::file::{Header, LockFile, well_formed};
pub use self::pins::{Pinned, assign_layers, language_pack_fixes, layers, parse_pins};
pub use self::uv::{Failure, Uv};
use crate::model::{Image, ImageLock};

/// Directory of the locks, under the specs directory.
pub const LOCK_DIR: &str = ".dlspec-lock";
/// The index of an image without a `build-pip` mirror.
pub const PYPI: &str = "https://pypi.org/simple";

/// The pip layers, in install order: the file each layer's requirements are written to for uv,
/// whose name comes back in uv's `# via -r …` annotations.
const LAYERS: [(&str, &str); 3] = [("platform", "platform.in"), ("framework", "framework.in"), ("extras", "extras.in")];

/// What one image's resolution depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `name:tag`, for messages.
    pub reference: String,
    /// `3.10`.
    pub python: String,
    /// uv's `--python-platform`: `x86_64-manylinux_2_35`.
    pub platform: String,
    /// PyPI, or the image's `build-pip` mirror.
    pub index_url: String,
    /// The framework's own wheel index (PyTorch's variant index), searched before `index_url`.
    pub framework_index: Option<String>,
    /// The framework's page of wheel links (PaddlePaddle's other CUDA builds).
    pub framework_find_links: Option<String>,
    /// Requirements of each layer, in [`LAYERS`] order.
    pub layers: [Vec<String>; 3],
    /// Constraints of the platform set's rules, for the whole resolution.
    pub constraints: Vec<String>,
}

impl Request {
    /// The resolution `image` needs.
    #[must_use]
    pub fn of(image: &Image) -> Self {
        let install = image.framework.as_ref().map(|f| &f.install);
        let framework = install.map(|i| i.requirements.clone()).unwrap_or_default();
        Self {
            reference: image.reference.clone(),
            python: image.python.version.clone(),
            platform: python_platform(image.base.os.as_deref()),
            index_url: image.mirrors.build_pip.clone().unwrap_or_else(|| PYPI.to_owned()),
            framework_index: install.and_then(|i| i.index_url.clone()),
            framework_find_links: install.and_then(|i| i.find_links.clone()),
            constraints: platform_constraints(&image.platform_pip),
            layers: [image.platform_pip.clone(), framework, image.extra_pip.clone()],
        }
    }

    /// Every input of the resolution, one per line, in a fixed order.
    #[must_use]
    pub fn input_text(&self) -> String {
        let mut text = format!("python {}\nplatform {}\nindex-url {}\n", self.python, self.platform, self.index_url);
        if let Some(index) = &self.framework_index {
            let _ = writeln!(text, "framework-index {index}");
        }
        if let Some(links) = &self.framework_find_links {
            let _ = writeln!(text, "framework-find-links {links}");
        }
        for ((layer, _), requirements) in LAYERS.iter().zip(&self.layers) {
            for requirement in requirements {
                let _ = writeln!(text, "{layer} {requirement}");
            }
        }
        for constraint in &self.constraints {
            let _ = writeln!(text, "constraint {constraint}");
        }
        text
    }

    /// sha256 of [`Self::input_text`], as recorded in the lock.
    #[must_use]
    pub fn input_hash(&self) -> String {
        crate::values::hex(&Sha256::digest(self.input_text().as_bytes()))
    }
}

/// Constraints the platform set needs beyond its requirements. TensorBoard up to 2.19 imports
/// `pkg_resources` at start, which newer setuptools no longer ship: locked with setuptools 84.2.1,
/// TensorBoard 2.19.0 exits with `No module named 'pkg_resources'` (seen in scripts/boot-test.sh,
/// 2026-12-01), while an unlocked build keeps the setuptools its Python came with.
#[must_use]
pub fn platform_constraints(platform: &[String]) -> Vec<String> {
    if platform.iter().any(|r| r == "tensorboard") { vec!["setuptools<81".to_owned()] } else { Vec::new() }
}

/// uv's `--python-platform` for an OS: x86_64 Linux at the manylinux level its glibc allows
/// (Ubuntu 18.04 glibc 2.27, 20.04 2.31, 22.04 2.35, 24.04 2.39). A base dlspec does not know
/// gets manylinux2014 (glibc 2.17), which any current distribution runs.
#[must_use]
pub fn python_platform(os: Option<&str>) -> String {
    let glibc = match os {
        Some("ubuntu18.04") => "2_27",
        Some("ubuntu20.04") => "2_31",
        Some("ubuntu22.04") => "2_35",
        Some("ubuntu24.04") => "2_39",
        _ => "2_17",
    };
    format!("x86_64-manylinux_{glibc}")
}

/// Where the lock of `image` lives.
#[must_use]
pub fn lock_path(specs: &Utf8Path, image: &Image) -> Utf8PathBuf {
    specs.join(LOCK_DIR).join(format!("{}.txt", image.dir))
}

/// The largest lock read: the largest of `specs/` (TensorFlow with the hashes of every wheel of
/// each pin) is 170 KB.
pub const MAX_LOCK_BYTES: u64 = 4 << 20;

/// The state of an image's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No lock file.
    Missing,
    /// The lock matches the spec.
    Current(LockFile),
    /// The spec's requirements changed since the lock.
    Stale(LockFile),
    /// A lock whose header has no hash of its content (an older dlspec wrote it): `dlspec lock`
    /// adds it, without resolving again when the lock is current.
    OldHeader(LockFile),
    /// The file cannot be read as a lock.
    Broken(String),
}

/// Reads the lock of `image`, offline, as every lock is read: a regular file of at most
/// [`MAX_LOCK_BYTES`] reached without a symlink below `specs`.
#[must_use]
pub fn state(specs: &Utf8Path, image: &Image) -> State {
    let relative = Utf8Path::new(LOCK_DIR).join(format!("{}.txt", image.dir));
    let text = match crate::files::read_text_below(specs, &relative, MAX_LOCK_BYTES) {
        Ok(Some(text)) => text,
        Ok(None) => return State::Missing,
        Err(e) => return State::Broken(e.to_string()),
    };
    match LockFile::parse(&text) {
        Ok((lock, Header::Old)) => State::OldHeader(lock),
        Ok((lock, Header::Sealed)) if lock.input_hash == Request::of(image).input_hash() => State::Current(lock),
        Ok((lock, Header::Sealed)) => State::Stale(lock),
        Err(e) => State::Broken(format!(
            "`{}` is not a dlspec lock: {e}; run `dlspec lock --image {}` to lock the image again",
            specs.join(&relative),
            image.name
        )),
    }
}

/// Gives each image with a current lock its locked layers, offline; the messages say which locks
/// were left aside (stale or unreadable): those images compile unlocked.
pub fn attach(specs: &Utf8Path, images: &mut [Image]) -> Vec<String> {
    let mut messages = Vec::new();
    for image in images {
        match state(specs, image) {
            State::Current(lock) => {
                let file = format!("{LOCK_DIR}/{}.txt", image.dir);
                let base_digest = lock.base_digest.filter(|d| digest_of(d, &image.base.image).is_some());
                image.lock = Some(ImageLock { layers: layers(&lock.body, &image.reference, &file), file, base_digest });
            }
            State::Stale(_) => messages.push(format!(
                "the lock of `{}` is stale (the spec's Python requirements changed since): the image is compiled unlocked; run `dlspec lock`",
                image.reference
            )),
            State::OldHeader(_) => messages.push(format!(
                "the lock of `{}` has the header of an older dlspec, without the sha256 of its content: the image \
                 is compiled unlocked; run `dlspec lock`, which adds it (a current lock is not resolved again)",
                image.reference
            )),
            State::Broken(e) => messages.push(format!("{e}: the image is compiled unlocked")),
            State::Missing => {}
        }
    }
    messages
}

/// The digest of `reference` (`image@sha256:…`) when it is `base` pinned by a well-formed digest.
#[must_use]
pub fn digest_of<'a>(reference: &'a str, base: &str) -> Option<&'a str> {
    let hex = reference.strip_prefix(base)?.strip_prefix("@sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

#[cfg(test)]
mod tests;

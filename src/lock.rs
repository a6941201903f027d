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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use crate::model::{Image, ImageLock, LockedLayer};

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
        hex(&Sha256::digest(self.input_text().as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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

/// A lock file: the hash of its input, the base image's digest if recorded, and uv's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFile {
    /// [`Request::input_hash`] at lock time.
    pub input_hash: String,
    /// `nvidia/cuda:12.1.0-…@sha256:…`, from `lock --digests`.
    pub base_digest: Option<String>,
    /// uv's `pip compile` output: every package pinned, with its hashes and `# via` lines.
    pub body: String,
}

/// Whether a lock's header has the hash of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// It has, and the content matches it.
    Sealed,
    /// Written by an earlier dlspec, without it: the content cannot be checked.
    Old,
}

const HEADER: &str = "# dlspec lock of ";
const INPUT: &str = "# input sha256:";
const CONTENT: &str = "# content sha256:";
const BASE: &str = "# base ";

impl LockFile {
    /// The file's text: the header, with the sha256 of everything below its `# content` line.
    #[must_use]
    pub fn render(&self, reference: &str) -> String {
        let content = self.content();
        format!(
            "{HEADER}{reference}: written by `dlspec lock`, do not edit.\n{INPUT}{}\n{CONTENT}{}\n{content}",
            self.input_hash,
            hex(&Sha256::digest(content.as_bytes()))
        )
    }

    /// What the content hash covers: the base line, if any, and uv's output.
    fn content(&self) -> String {
        match &self.base_digest {
            Some(digest) => format!("{BASE}{digest}\n{}", self.body),
            None => self.body.clone(),
        }
    }

    /// Reads a lock's text, and says whether its content was checked against its header.
    ///
    /// # Errors
    /// When the header is not one `render` writes, the content does not match its hash, or a line
    /// is not a pinned requirement, a hash or a plain comment.
    pub fn parse(text: &str) -> Result<(Self, Header), String> {
        if let Some((n, line)) = text.split('\n').enumerate().find(|(_, l)| l.chars().any(crate::source::unsafe_char)) {
            let c = line.chars().find(|c| crate::source::unsafe_char(*c)).unwrap_or_default();
            return Err(format!(
                "its line {} has the character U+{:04X} (a control character, line separator or direction \
                 override), which pip could read as a line break",
                n + 1,
                u32::from(c)
            ));
        }
        let mut rest = text;
        let mut line = || {
            let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
            rest = after;
            line
        };
        if !line().starts_with(HEADER) {
            return Err(format!("it does not start with `{HEADER}`"));
        }
        let input_hash = sha256_hex(line().strip_prefix(INPUT))
            .ok_or_else(|| format!("its second line is not `{INPUT}<64 hex digits>`"))?
            .to_owned();
        let (header, content) = match rest.split_once('\n') {
            Some((line, content)) if line.starts_with(CONTENT) => {
                let recorded = sha256_hex(line.strip_prefix(CONTENT))
                    .ok_or_else(|| format!("its third line is not `{CONTENT}<64 hex digits>`"))?;
                if hex(&Sha256::digest(content.as_bytes())) != recorded {
                    return Err("its content does not match the sha256 of its header: it was edited by hand since \
                                `dlspec lock` wrote it"
                        .to_owned());
                }
                (Header::Sealed, content)
            }
            _ => (Header::Old, rest),
        };
        let (base_digest, body) = match content.strip_prefix(BASE).and_then(|l| l.split_once('\n')) {
            Some((digest, body)) => (Some(digest.to_owned()), body),
            None => (None, content),
        };
        well_formed(body)?;
        Ok((Self { input_hash, base_digest, body: body.to_owned() }, header))
    }
}

/// The 64 lowercase hex digits of a sha256, alone on a line.
fn sha256_hex(text: Option<&str>) -> Option<&str> {
    text.filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// One pinned package of uv's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// Normalized name: `jupyterlab-language-pack-zh-cn`.
    pub name: String,
    /// `4.5.post3`.
    pub version: String,
    /// Its lines: the requirement, its hashes, its `# via` comments.
    pub text: String,
    /// What asked for it: `-r platform.in` or another package's name.
    pub via: Vec<String>,
}

/// The packages of uv's `pip compile` output.
#[must_use]
pub fn parse_pins(body: &str) -> Vec<Pinned> {
    let mut pins: Vec<Pinned> = Vec::new();
    let mut in_via_list = false;
    for line in body.lines() {
        let trimmed = line.trim();
        if !line.starts_with(' ') && !line.starts_with('#') && !trimmed.is_empty() {
            let requirement = trimmed.trim_end_matches('\\').trim();
            let (name, version) = requirement.split_once("==").unwrap_or((requirement, ""));
            let version = version.split([' ', ';']).next().unwrap_or_default();
            pins.push(Pinned {
                name: name.trim().to_lowercase().replace(['_', '.'], "-"),
                version: version.to_owned(),
                text: String::new(),
                via: Vec::new(),
            });
            in_via_list = false;
        }
        let Some(pin) = pins.last_mut() else { continue };
        if let Some(rest) = trimmed.strip_prefix("# via") {
            let rest = rest.trim();
            in_via_list = rest.is_empty();
            if !in_via_list {
                pin.via.push(rest.to_owned());
            }
        } else if in_via_list && let Some(source) = trimmed.strip_prefix('#') {
            pin.via.push(source.trim().to_owned());
        }
        pin.text.push_str(line);
        pin.text.push('\n');
    }
    pins
}

/// Layer of each package: the first layer whose requirements need it, directly or through other
/// packages. Each package is installed once, in that layer, so a later layer never reinstalls
/// (or downgrades) it.
#[must_use]
pub fn assign_layers(pins: &[Pinned]) -> Vec<usize> {
    let index: BTreeMap<&str, usize> = pins.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let last = LAYERS.len() - 1;
    let mut layer = vec![usize::MAX; pins.len()];
    loop {
        let mut changed = false;
        for (i, pin) in pins.iter().enumerate() {
            for source in &pin.via {
                let from = if let Some(file) = source.strip_prefix("-r ") {
                    LAYERS.iter().position(|(_, f)| *f == file.trim()).unwrap_or(last)
                } else if let Some(&j) = index.get(source.to_lowercase().replace(['_', '.'], "-").as_str()) {
                    layer[j]
                } else {
                    continue;
                };
                if from < layer[i] {
                    layer[i] = from;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer.into_iter().map(|l| l.min(last)).collect()
}

/// Splits a lock body into its layers; layers with no package of their own are left out.
#[must_use]
pub fn layers(body: &str, reference: &str, lock_file: &str) -> Vec<LockedLayer> {
    let pins = parse_pins(body);
    let assigned = assign_layers(&pins);
    LAYERS
        .iter()
        .enumerate()
        .filter_map(|(n, (name, _))| {
            // The lock's path comes from the specs directory the user named: one comment line, whatever it holds.
            let lock_file = lock_file.escape_debug();
            let mut text = format!(
                "# The {name} layer of {reference}, from {lock_file} (`dlspec lock`): installed with\n# pip install --no-deps --require-hashes; every package of the image is in exactly one layer.\n"
            );
            let mut any = false;
            for (pin, _) in pins.iter().zip(&assigned).filter(|(_, l)| **l == n) {
                text.push_str(&pin.text);
                any = true;
            }
            any.then(|| LockedLayer { name: (*name).to_owned(), file: format!("{name}.lock.txt"), text })
        })
        .collect()
}

/// `4.5.post3` → `4.5`.
fn major_minor(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let major = parts.next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let minor: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
    (!minor.is_empty()).then(|| format!("{major}.{minor}"))
}

/// The platform set's coherence rule: a JupyterLab language pack is built for one JupyterLab
/// major.minor (pack 4.5 translates JupyterLab 4.5). When a resolution pairs them wrongly, the
/// constraints that fix it, best first: JupyterLab on the pack's major.minor (the newest
/// translated UI), else the pack on JupyterLab's.
#[must_use]
pub fn language_pack_fixes(pins: &[Pinned]) -> Option<Vec<String>> {
    let jupyterlab = pins.iter().find(|p| p.name == "jupyterlab")?;
    let pack = pins.iter().find(|p| p.name.starts_with("jupyterlab-language-pack-"))?;
    let (lab, packed) = (major_minor(&jupyterlab.version)?, major_minor(&pack.version)?);
    (lab != packed).then(|| vec![format!("jupyterlab=={packed}.*"), format!("{}=={lab}.*", pack.name)])
}

/// How to run uv.
#[derive(Debug, Clone)]
pub struct Uv {
    /// The `uv` program.
    pub program: Utf8PathBuf,
    /// `--upgrade`: re-resolve every package.
    pub upgrade_all: bool,
    /// `--upgrade-package`: re-resolve these only.
    pub upgrade: Vec<String>,
    /// Extra `--find-links` locations (a local wheel directory).
    pub find_links: Vec<String>,
}

/// Why an image could not be locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// uv did not run at all.
    Tool(String),
    /// uv found no set that satisfies the requirements: its explanation.
    Unresolvable(String),
}

impl Uv {
    /// Resolves `request`, preferring the pins of `previous` (uv keeps them unless told to upgrade),
    /// and applies the language-pack rule.
    ///
    /// # Errors
    /// When uv fails or no coherent set exists.
    pub fn resolve(&self, request: &Request, previous: Option<&str>) -> Result<String, Failure> {
        let body = self.compile(request, previous, None)?;
        let Some(fixes) = language_pack_fixes(&parse_pins(&body)) else { return Ok(body) };
        let mut reasons = Vec::new();
        for fix in &fixes {
            match self.compile(request, previous, Some(fix)) {
                Ok(fixed) if language_pack_fixes(&parse_pins(&fixed)).is_none() => return Ok(fixed),
                Ok(_) => reasons.push(format!("with `{fix}` the pack and JupyterLab still differ")),
                Err(Failure::Unresolvable(reason)) => reasons.push(format!("with `{fix}`: {reason}")),
                Err(tool) => return Err(tool),
            }
        }
        Err(Failure::Unresolvable(format!(
            "the JupyterLab language pack is for another JupyterLab major.minor, and neither fix resolves ({})",
            reasons.join("; ")
        )))
    }

    fn compile(&self, request: &Request, previous: Option<&str>, constraint: Option<&str>) -> Result<String, Failure> {
        let dir =
            tempfile::tempdir().map_err(|e| Failure::Tool(format!("cannot create a temporary directory: {e}")))?;
        let folder = Utf8Path::from_path(dir.path())
            .ok_or_else(|| Failure::Tool(format!("the temporary directory `{}` is not UTF-8", dir.path().display())))?;
        let write = |name: &str, text: &str| {
            crate::files::write_file_below(
                folder,
                Utf8Path::new(name),
                text.as_bytes(),
                crate::files::Existing::Replace,
            )
            .map_err(|e| Failure::Tool(e.to_string()))
        };
        let mut command = Command::new(self.program.as_str());
        command.current_dir(dir.path()).args(["pip", "compile", "--quiet", "--no-header", "--generate-hashes"]);
        command.args(["--python-version", &request.python, "--python-platform", &request.platform]);
        command.args(["--index-url", &request.index_url]);
        if let Some(index) = &request.framework_index {
            // uv searches extra indexes first and takes a package from the first index that has
            // it: the framework's wheels (and what its index mirrors) come from there, as at build time.
            command.args(["--extra-index-url", index]);
        }
        for location in self.find_links.iter().chain(&request.framework_find_links) {
            command.args(["--find-links", location]);
        }
        for ((_, file), requirements) in LAYERS.iter().zip(&request.layers) {
            if !requirements.is_empty() {
                write(file, &(requirements.join("\n") + "\n"))?;
                command.arg(file);
            }
        }
        let constraints: Vec<&str> = request.constraints.iter().map(String::as_str).chain(constraint).collect();
        if !constraints.is_empty() {
            write("constraints.txt", &(constraints.join("\n") + "\n"))?;
            command.args(["--constraint", "constraints.txt"]);
        }
        if let Some(previous) = previous {
            write("lock.txt", previous)?;
        }
        command.args(["--output-file", "lock.txt"]);
        if self.upgrade_all {
            command.arg("--upgrade");
        }
        for package in &self.upgrade {
            command.args(["--upgrade-package", package]);
        }
        let output = command.output().map_err(|e| {
            Failure::Tool(format!(
                "cannot run `{}`: {e} (install it: pip install -r .ci/requirements.txt)",
                self.program
            ))
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(if stderr.contains("No solution found") || stderr.contains("unsatisfiable") {
                Failure::Unresolvable(stderr)
            } else {
                Failure::Tool(stderr)
            });
        }
        match crate::files::read_text_below(folder, Utf8Path::new("lock.txt"), MAX_LOCK_BYTES) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err(Failure::Tool("uv wrote no lock.txt".to_owned())),
            Err(e) => Err(Failure::Tool(e.to_string())),
        }
    }
}

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

/// Checks that a lock body holds only what uv writes: pinned requirements (`name==version`), each
/// followed by its hash lines (`--hash=sha256:…`, the lines before the last ending in ` \`), and
/// comments. pip reads each requirement with its hashes as one line; nothing else (an option such as
/// `--index-url`) may hide in a lock.
///
/// # Errors
/// The first line that is none of those, or a continuation that does not go on with a hash.
pub fn well_formed(body: &str) -> Result<(), String> {
    let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let version = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_');
    let requirement = |line: &str| {
        line.split_once("==")
            .is_some_and(|(n, v)| !n.is_empty() && n.chars().all(name) && !v.is_empty() && v.chars().all(version))
    };
    let hash = |line: &str| {
        line.trim_start_matches(' ')
            .strip_prefix("--hash=sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut continued = false;
    for (n, line) in body.split('\n').enumerate() {
        let (text, continues) = match line.strip_suffix(" \\") {
            Some(text) => (text, true),
            None => (line, false),
        };
        let kind = if continued {
            hash(text).then_some("hash")
        } else if line.is_empty() || line.trim_start_matches(' ').starts_with('#') {
            Some("comment")
        } else if requirement(text) {
            Some("requirement")
        } else {
            None
        };
        match kind {
            Some("comment") => continued = false,
            Some(_) => continued = continues,
            None if continued => {
                return Err(format!(
                    "line {} of its packages is not a hash, after a line ending in `\\`: `{line}`",
                    n + 1
                ));
            }
            None => {
                return Err(format!(
                    "line {} of its packages is not a pinned requirement, a hash or a comment: `{line}`",
                    n + 1
                ));
            }
        }
    }
    if continued {
        return Err("its last line ends in `\\`, with no hash after it".to_owned());
    }
    Ok(())
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
mod tests {
    use super::*;

    /// uv 0.13.9's output for platform `jupyterlab`, `jupyterlab-language-pack-zh-CN`,
    /// `tensorboard`; framework `tensorflow==2.15.0`; extras `pandas` (cut to the packages that
    /// matter, hashes shortened).
    const RESOLVED: &str = "\
jupyterlab==4.6.6 \\
    --hash=sha256:aa
    # via -r platform.in
jupyterlab-language-pack-zh-cn==4.5.post3 \\
    --hash=sha256:bb
    # via -r platform.in
numpy==1.26.4 \\
    --hash=sha256:cc
    # via
    #   -r platform.in
    #   pandas
    #   tensorboard
    #   tensorflow
pandas==2.3.3 \\
    --hash=sha256:dd
    # via -r extras.in
tensorboard==2.15.2 \\
    --hash=sha256:ee
    # via
    #   -r platform.in
    #   tensorflow
tensorflow==2.15.0 \\
    --hash=sha256:ff
    # via -r framework.in
wrapt==1.14.2 \\
    --hash=sha256:11
    # via tensorflow
";

    #[test]
    fn pins_are_read_with_what_asked_for_them() {
        let pins = parse_pins(RESOLVED);
        assert_eq!(pins.len(), 7);
        assert_eq!(pins[1].name, "jupyterlab-language-pack-zh-cn");
        assert_eq!(pins[1].version, "4.5.post3");
        assert_eq!(pins[2].via, ["-r platform.in", "pandas", "tensorboard", "tensorflow"]);
        assert!(pins[6].text.starts_with("wrapt==1.14.2 \\\n    --hash=sha256:11\n"));
    }

    #[test]
    fn a_package_the_framework_also_needs_is_installed_once_by_the_platform_layer() {
        // TensorFlow depends on TensorBoard: one resolution, TensorBoard 2.15.2 in the platform
        // layer only, so the framework layer cannot downgrade it.
        let layers = layers(RESOLVED, "tf:1", "specs/.dlspec-lock/tf/1.txt");
        let names: Vec<_> = layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["platform", "framework", "extras"]);
        assert!(layers[0].text.contains("tensorboard==2.15.2"));
        assert!(layers[0].text.contains("numpy==1.26.4"));
        assert!(!layers[1].text.contains("tensorboard=="));
        assert!(layers[1].text.contains("tensorflow==2.15.0") && layers[1].text.contains("wrapt==1.14.2"));
        assert!(!layers[2].text.contains("numpy=="));
        for pin in parse_pins(RESOLVED) {
            let count = layers.iter().filter(|l| l.text.contains(&format!("\n{}==", pin.name))).count();
            assert_eq!(count, 1, "{} is in {count} layers", pin.name);
        }
    }

    #[test]
    fn a_dependency_reached_only_through_a_later_layer_stays_in_that_layer() {
        let body =
            "a==1 \\\n    --hash=sha256:aa\n    # via b\nb==1 \\\n    --hash=sha256:bb\n    # via -r extras.in\n";
        let pins = parse_pins(body);
        assert_eq!(assign_layers(&pins), [2, 2]);
        assert_eq!(layers(body, "x:1", "l.txt").len(), 1);
    }

    #[test]
    fn a_language_pack_for_another_jupyterlab_is_fixed_by_a_constraint() {
        let fixes = language_pack_fixes(&parse_pins(RESOLVED)).expect("4.6 and 4.5 differ");
        assert_eq!(fixes, ["jupyterlab==4.5.*", "jupyterlab-language-pack-zh-cn==4.6.*"]);
        // Python 3.7: JupyterLab 3.6.8 with the 4.5 pack.
        let old = "jupyterlab==3.6.8 \\\n    # via -r platform.in\njupyterlab-language-pack-zh-cn==4.5.post3\n";
        assert_eq!(
            language_pack_fixes(&parse_pins(old)).expect("3.6 and 4.5 differ"),
            ["jupyterlab==4.5.*", "jupyterlab-language-pack-zh-cn==3.6.*"]
        );
        let coherent = "jupyterlab==4.5.2\njupyterlab-language-pack-zh-cn==4.5.post3\n";
        assert_eq!(language_pack_fixes(&parse_pins(coherent)), None);
        assert_eq!(language_pack_fixes(&parse_pins("jupyterlab==4.5.2\n")), None);
    }

    #[test]
    fn tensorboard_keeps_a_setuptools_with_pkg_resources() {
        assert_eq!(platform_constraints(&["numpy<2".to_owned(), "tensorboard".to_owned()]), ["setuptools<81"]);
        assert!(platform_constraints(&["jupyterlab".to_owned()]).is_empty());
    }

    #[test]
    fn the_platform_follows_the_os_glibc() {
        assert_eq!(python_platform(Some("ubuntu18.04")), "x86_64-manylinux_2_27");
        assert_eq!(python_platform(Some("ubuntu20.04")), "x86_64-manylinux_2_31");
        assert_eq!(python_platform(Some("ubuntu22.04")), "x86_64-manylinux_2_35");
        assert_eq!(python_platform(Some("ubuntu24.04")), "x86_64-manylinux_2_39");
        assert_eq!(python_platform(None), "x86_64-manylinux_2_17");
    }

    /// RESOLVED with hashes of 64 hex digits, as uv writes them.
    fn resolved() -> String {
        RESOLVED
            .lines()
            .map(|line| match line.split_once("--hash=sha256:") {
                Some((indent, hash)) => format!("{indent}--hash=sha256:{}\n", hash[..2].repeat(32)),
                None => format!("{line}\n"),
            })
            .collect()
    }

    #[test]
    fn a_lock_file_reads_back_what_it_wrote() {
        let lock = LockFile {
            input_hash: "ab".repeat(32),
            base_digest: Some(format!("ubuntu:22.04@sha256:{}", "cd".repeat(32))),
            body: resolved(),
        };
        assert_eq!(LockFile::parse(&lock.render("x:1")), Ok((lock.clone(), Header::Sealed)));
        let plain = LockFile { base_digest: None, ..lock };
        assert_eq!(LockFile::parse(&plain.render("x:1")), Ok((plain.clone(), Header::Sealed)));
        assert!(LockFile::parse("numpy==1\n").is_err());
        // The header of earlier versions: read, but not sealed.
        let old =
            format!("{HEADER}x:1: written by `dlspec lock`, do not edit.\n{INPUT}{}\n{}", plain.input_hash, plain.body);
        assert_eq!(LockFile::parse(&old), Ok((plain, Header::Old)));
    }

    #[test]
    fn a_pin_or_hash_edited_by_hand_breaks_the_seal() {
        let lock = LockFile { input_hash: "ab".repeat(32), base_digest: None, body: resolved() };
        let text = lock.render("x:1");
        for (from, to) in
            [("pandas==2.3.3", "pandas==2.3.4"), ("sha256:dddd", "sha256:eddd"), ("# via -r extras.in", "# via")]
        {
            let edited = text.replacen(from, to, 1);
            assert_ne!(edited, text, "{from}");
            let error = LockFile::parse(&edited).unwrap_err();
            assert!(error.contains("edited by hand"), "{from}: {error}");
        }
    }

    #[test]
    fn only_requirements_hashes_and_plain_comments_are_a_lock() {
        let hash = format!("    --hash=sha256:{}", "ab".repeat(32));
        assert_eq!(
            well_formed(&format!("numpy==1.26.4 \\\n{hash} \\\n{hash}\n    # via -r x.in\n\nsix==1.0\n")),
            Ok(())
        );
        for body in [
            "--extra-index-url http://evil.example/simple\n".to_owned(),
            "numpy==1.26.4 \\\n--index-url http://evil.example\n".to_owned(),
            format!("numpy==1.26.4 \\\n{hash} \\\nsix==1.0\n"),
            format!("numpy==1.26.4 \\\n{hash} \\\n"),
            "numpy>=1\n".to_owned(),
            "numpy==1.0 ; python_version<'3'\n".to_owned(),
            format!("{hash}\n"),
        ] {
            assert!(well_formed(&body).is_err(), "{body:?}");
        }
        // A comment with a line break to pip (form feed, U+2028, …) is refused with the whole lock.
        for separator in ['\u{c}', '\u{2028}', '\u{85}', '\r', '\u{b}', '\u{1c}'] {
            let body = format!("# via x{separator}--extra-index-url http://evil.example/simple\nsix==1.0\n");
            let lock = LockFile { input_hash: "ab".repeat(32), base_digest: None, body };
            let error = LockFile::parse(&lock.render("x:1")).unwrap_err();
            assert!(error.contains(&format!("U+{:04X}", u32::from(separator))), "{error}");
        }
    }
}

//! A lock file: its sealed header (the hash of its input and of its content) and its body, which
//! holds nothing but pinned requirements, their hashes and plain comments.

use sha2::{Digest, Sha256};

use crate::values::hex;

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

pub(super) const HEADER: &str = "# dlspec lock of ";
pub(super) const INPUT: &str = "# input sha256:";
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

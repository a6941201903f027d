//! The failures that end a command with exit code 2: a file that cannot be read or written, a
//! refused path, a template that fails, a wrong argument. Problems of a spec's content are
//! diagnostics (`crate::diag`), not these. Each variant names the file (or template, or value)
//! and what was done to it; its message says what to do instead.

use std::fmt;
use std::io;

use camino::Utf8PathBuf;

/// A failure that is not about a spec's content: exit code 2.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read (opened, listed, read).
    Read {
        /// The file or folder.
        path: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file could not be written (created, written, renamed into place).
    Write {
        /// The file.
        path: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A folder could not be created.
    Create {
        /// The folder.
        path: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file or folder could not be removed.
    Remove {
        /// The file or folder.
        path: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The working folder of a compile could not be emptied or made.
    Prepare {
        /// The folder (`out/.dlspec-tmp`).
        path: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file dlspec reads is a symlink, FIFO, device or folder.
    NotRegular {
        /// The path.
        path: Utf8PathBuf,
    },
    /// A template of a templates directory is a symlink, FIFO or device.
    TemplateNotRegular {
        /// The path.
        path: Utf8PathBuf,
    },
    /// Something that is not a regular file is where dlspec replaces a file.
    NotReplaceable {
        /// The path.
        path: Utf8PathBuf,
    },
    /// A FIFO, socket, device or folder is where `compile` writes a generated file.
    SpecialInOut {
        /// The path found.
        path: Utf8PathBuf,
        /// The generated file's path, relative to `out/`.
        generated: Utf8PathBuf,
    },
    /// A file dlspec reads is larger than it reads of such a file.
    TooLarge {
        /// The file.
        path: Utf8PathBuf,
        /// The most dlspec reads, in bytes.
        limit: u64,
    },
    /// A file dlspec reads as text is not UTF-8.
    NotUtf8 {
        /// The file.
        path: Utf8PathBuf,
    },
    /// A path found on disk is not UTF-8.
    NotUtf8Path {
        /// The path, as it prints.
        path: String,
    },
    /// A path to read or write below a folder is not a plain relative path.
    RefusedPath {
        /// The path.
        path: Utf8PathBuf,
        /// The folder.
        below: Utf8PathBuf,
    },
    /// A path of a generated file is not a plain relative path.
    RefusedOutputPath {
        /// The path, relative to `out/`.
        path: Utf8PathBuf,
    },
    /// A symlink below a folder dlspec reads or writes: it follows none.
    Symlink {
        /// The symlink.
        path: Utf8PathBuf,
        /// The folder.
        below: Utf8PathBuf,
    },
    /// A symlink inside the output directory.
    SymlinkInOut {
        /// The symlink.
        path: Utf8PathBuf,
    },
    /// A file where dlspec expects a folder to read below.
    NotAFolder {
        /// The file.
        path: Utf8PathBuf,
    },
    /// A file where dlspec writes a folder.
    FileInTheWay {
        /// The file.
        path: Utf8PathBuf,
    },
    /// A file that dlspec never overwrites exists.
    Exists {
        /// The file.
        path: Utf8PathBuf,
    },
    /// Files `dlspec init` would write exist already.
    InitExists {
        /// The files.
        paths: Vec<Utf8PathBuf>,
    },
    /// The specs directory is missing or not a directory.
    NoSpecs {
        /// The path given.
        path: Utf8PathBuf,
    },
    /// A spec file's name has a character that generated files cannot carry.
    SpecName {
        /// The name, relative to the specs directory.
        name: String,
        /// The character.
        character: char,
    },
    /// The spec files of a catalog hold more than dlspec reads for one catalog.
    CatalogTooLarge {
        /// The specs directory.
        specs: Utf8PathBuf,
        /// Their bytes together.
        bytes: u64,
        /// The most dlspec reads.
        limit: u64,
    },
    /// Another compile holds the lock on the output directory.
    OutLocked {
        /// The output directory.
        out: Utf8PathBuf,
    },
    /// The output directory holds files, but no usable manifest: dlspec did not generate it.
    NotGenerated {
        /// The output directory.
        out: Utf8PathBuf,
        /// The manifest's file name.
        manifest: &'static str,
        /// Why the manifest there is unusable, when there is one.
        problem: Option<String>,
    },
    /// Planned paths hold files that dlspec did not write.
    Foreign {
        /// The manifest that does not list them.
        manifest: Utf8PathBuf,
        /// The files.
        paths: Vec<Utf8PathBuf>,
    },
    /// A file dlspec did not write appeared at a planned path while it compiled.
    Appeared {
        /// The file.
        path: Utf8PathBuf,
    },
    /// A record file of `out/` (the journal) is unusable.
    Unusable {
        /// The file.
        path: Utf8PathBuf,
        /// What is wrong with it (`has a line 3 that is not …`).
        problem: String,
    },
    /// An image checked before could not be derived again from its specs.
    NotDerived {
        /// `name:tag`.
        reference: String,
    },
    /// Rendering a generated file failed.
    Rendering {
        /// The file.
        path: Utf8PathBuf,
        /// Why.
        error: Box<Error>,
    },
    /// A template failed (a variable that does not exist, a filter that refused a value).
    Template {
        /// The template, by name (`image/Dockerfile.j2`).
        name: String,
        /// The line, when known.
        line: Option<usize>,
        /// minijinja's account of it.
        detail: String,
    },
    /// A template did more work than its budget.
    OutOfFuel {
        /// The template.
        name: String,
        /// The steps it may take.
        steps: u64,
        /// The steps any template may take, before what its data adds.
        base: u64,
    },
    /// A template wrote more than its budget.
    TooMuchOutput {
        /// The template.
        name: String,
        /// The bytes it may write.
        limit: u64,
        /// The bytes any template may write, before what its data adds.
        base: u64,
    },
    /// A file of a templates directory overrides no template.
    UnknownTemplate {
        /// The file.
        path: String,
        /// The nearest names, or the list of them.
        suggestion: String,
    },
    /// A templates directory could not be read.
    TemplatesDir {
        /// The directory.
        dir: Utf8PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Rendering took more memory than dlspec may use.
    TooMuchMemory {
        /// The resident memory seen, in bytes.
        used: u64,
        /// The most it may take.
        limit: u64,
        /// The templates directory, when the built-in templates were overridden.
        templates: Option<Utf8PathBuf>,
        /// The output directory, left as it was.
        out: Utf8PathBuf,
    },
    /// A value given as a commit names none in the repository of a folder.
    NotACommit {
        /// The value.
        rev: String,
        /// The folder whose repository was asked.
        dir: Utf8PathBuf,
    },
    /// A folder that is compared with a commit is not in a git repository.
    NotInGit {
        /// The folder.
        dir: Utf8PathBuf,
    },
    /// git failed.
    Git {
        /// What ran (`git diff …`).
        command: String,
        /// What git said.
        detail: String,
    },
    /// A command-line argument or option that cannot be used: the message says what to give.
    Usage(String),
}

impl Error {
    /// A failure to read `path`.
    pub fn read(path: impl Into<Utf8PathBuf>, source: io::Error) -> Self {
        Self::Read { path: path.into(), source }
    }

    /// A failure to write `path`.
    pub fn write(path: impl Into<Utf8PathBuf>, source: io::Error) -> Self {
        Self::Write { path: path.into(), source }
    }

    /// A failure to create the folder `path`.
    pub fn create(path: impl Into<Utf8PathBuf>, source: io::Error) -> Self {
        Self::Create { path: path.into(), source }
    }

    /// A failure to remove `path`.
    pub fn remove(path: impl Into<Utf8PathBuf>, source: io::Error) -> Self {
        Self::Remove { path: path.into(), source }
    }
}

/// One arm per variant, each the message people read: long, but each arm is one sentence.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read `{path}`: {source}"),
            Self::Write { path, source } => write!(f, "cannot write `{path}`: {source}"),
            Self::Create { path, source } => write!(f, "cannot create `{path}`: {source}"),
            Self::Remove { path, source } => write!(f, "cannot remove `{path}`: {source}"),
            Self::Prepare { path, source } => write!(f, "cannot prepare `{path}`: {source}"),
            Self::NotRegular { path } => write!(
                f,
                "`{path}` is not a regular file (a symlink, FIFO, device or folder): dlspec reads only files, \
                 and follows no link; put the file itself there"
            ),
            Self::TemplateNotRegular { path } => write!(
                f,
                "`{path}` is not a regular file (a symlink, FIFO or device): dlspec reads only files as \
                 templates, and follows no link; put the template itself there"
            ),
            Self::NotReplaceable { path } => write!(
                f,
                "`{path}` is not a regular file (a FIFO, socket, device or folder): remove it, dlspec replaces only files"
            ),
            Self::SpecialInOut { path, generated } => write!(
                f,
                "`{path}` is not a regular file (a FIFO, socket, device or folder) where dlspec writes `{generated}`: \
                 remove it"
            ),
            Self::TooLarge { path, limit } => write!(
                f,
                "`{path}` is larger than {}, the most dlspec reads of such a file: split it into several files",
                size_text(*limit)
            ),
            Self::NotUtf8 { path } => write!(f, "`{path}` is not UTF-8 text"),
            Self::NotUtf8Path { path } => write!(f, "path `{path}` is not UTF-8"),
            Self::RefusedPath { path, below } => write!(f, "refusing the path `{path}` below `{below}`"),
            Self::RefusedOutputPath { path } => write!(f, "refusing the output path `{path}`"),
            Self::Symlink { path, below } => write!(
                f,
                "`{path}` is a symlink: dlspec follows no link below `{below}`, so that it never reads or writes \
                 outside it; put the folder or file itself there"
            ),
            Self::SymlinkInOut { path } => {
                write!(f, "`{path}` is a symlink: dlspec does not follow links inside the output directory")
            }
            Self::NotAFolder { path } => write!(f, "`{path}` is a file where dlspec expects a folder: move it away"),
            Self::FileInTheWay { path } => write!(f, "`{path}` is a file where dlspec writes a folder: move it away"),
            Self::Exists { path } => write!(f, "`{path}` exists already: dlspec overwrites nothing here"),
            Self::InitExists { paths } => {
                let listed: Vec<String> = paths.iter().map(|p| format!("`{p}`")).collect();
                write!(
                    f,
                    "{} already {}; `dlspec init` writes into a new repository only and overwrites nothing",
                    listed.join(", "),
                    if paths.len() == 1 { "exists" } else { "exist" }
                )
            }
            Self::NoSpecs { path } => write!(f, "specs directory `{path}` does not exist or is not a directory"),
            Self::SpecName { name, character } => write!(
                f,
                "spec file name {name:?} contains the character U+{:04X}; rename the file: generated files \
                 name their spec, and control characters, line separators and direction overrides cannot be \
                 written safely into them",
                u32::from(*character)
            ),
            Self::CatalogTooLarge { specs, bytes, limit } => write!(
                f,
                "the spec files of `{specs}` hold {:.1} MiB together, more than the {} dlspec reads for one catalog \
                 (50,000 images take about 4 MiB): remove what no image uses (profiles, say), or split the catalog \
                 into several spec directories, each compiled into an output directory of its own",
                *bytes as f64 / f64::from(1 << 20),
                size_text(*limit)
            ),
            Self::OutLocked { out } => write!(
                f,
                "another dlspec compile is writing `{out}` (it holds the lock on the folder): run again when it has \
                 finished"
            ),
            Self::NotGenerated { out, manifest, problem } => {
                let why = problem.as_ref().map_or(String::new(), |p| format!(" ({p})"));
                write!(
                    f,
                    "`{out}` holds files but no usable {manifest}{why}: dlspec did not generate it. Pass --force to \
                     write into it anyway"
                )
            }
            Self::Foreign { manifest, paths } => {
                let shown: Vec<String> = paths.iter().take(10).map(|p| format!("\n  {p}")).collect();
                let more = paths.len().saturating_sub(10);
                let more = if more > 0 { format!("\n  … and {more} more") } else { String::new() };
                let (count, files) = (paths.len(), if paths.len() == 1 { "file" } else { "files" });
                write!(
                    f,
                    "{count} {files} where dlspec writes, not written by dlspec (not in `{manifest}`):{}{more}\n\
                     Move them away, or pass --force to overwrite them",
                    shown.concat()
                )
            }
            Self::Appeared { path } => write!(
                f,
                "`{path}` appeared while compiling and dlspec did not write it: move it away, or pass --force to \
                 overwrite it"
            ),
            Self::Unusable { path, problem } => write!(f, "`{path}` {problem}"),
            Self::NotDerived { reference } => write!(f, "`{reference}` could not be derived again"),
            Self::Rendering { path, error } => write!(f, "`{path}`: {error}"),
            Self::Template { name, line, detail } => match line {
                Some(line) => write!(f, "template `{name}:{line}`: {detail}"),
                None => write!(f, "template `{name}`: {detail}"),
            },
            Self::OutOfFuel { name, steps, base } => write!(
                f,
                "template `{name}` ran out of fuel: it did more work than {steps} steps, the most it may do here \
                 ({base} plus some for each byte of the data it is given); a template that loops or builds \
                 text without bound is stopped"
            ),
            Self::TooMuchOutput { name, limit, base } => write!(
                f,
                "template `{name}` wrote more than {}, the most its output may take here ({} plus 4 bytes per byte \
                 of the data it is given): a template that loops or repeats text without bound is stopped",
                size_text(*limit),
                size_text(*base)
            ),
            Self::UnknownTemplate { path, suggestion } => write!(f, "`{path}` overrides no template; {suggestion}"),
            Self::TemplatesDir { dir, source } => write!(f, "cannot read templates directory `{dir}`: {source}"),
            Self::TooMuchMemory { used, limit, templates, out } => {
                let overrides =
                    templates.as_ref().map_or(String::new(), |dir| format!(", with the templates of `{dir}`"));
                write!(
                    f,
                    "dlspec took {} of memory rendering the catalog{overrides}, more than the {} it may: a template \
                     that builds a list or text without bound (`l + l` in a loop, say) is stopped; nothing in `{out}` \
                     was replaced",
                    size_text(used.div_ceil(1 << 20) << 20),
                    size_text(*limit),
                )
            }
            Self::NotACommit { rev, dir } => write!(
                f,
                "`{rev}` is not a commit of the git repository of `{dir}`: give a commit, branch or tag that names \
                 one (`HEAD~1`, `origin/main`, a commit's sha)"
            ),
            Self::NotInGit { dir } => {
                write!(f, "`{dir}` is not in a git repository: `--changed-since` compares it with a commit of its own")
            }
            Self::Git { command, detail } => write!(f, "`{command}` failed: {detail}"),
            Self::Usage(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. }
            | Self::Write { source, .. }
            | Self::Create { source, .. }
            | Self::Remove { source, .. }
            | Self::Prepare { source, .. }
            | Self::TemplatesDir { source, .. } => Some(source),
            Self::Rendering { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

/// `1 MiB`, `512 KiB`, `100 bytes`: a limit as people read it.
#[must_use]
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_what_failed() {
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(Error::read("specs/a.kdl", denied()).to_string(), "cannot read `specs/a.kdl`: permission denied");
        assert_eq!(Error::write("out/x", denied()).to_string(), "cannot write `out/x`: permission denied");
        let large = Error::TooLarge { path: "specs/big.kdl".into(), limit: 1 << 20 };
        assert_eq!(
            large.to_string(),
            "`specs/big.kdl` is larger than 1 MiB, the most dlspec reads of such a file: split it into several files"
        );
        let template = Error::Template { name: "image/Dockerfile.j2".into(), line: Some(3), detail: "x".into() };
        assert_eq!(template.to_string(), "template `image/Dockerfile.j2:3`: x");
        let exists = Error::InitExists { paths: vec!["a".into(), "b".into()] };
        assert!(exists.to_string().starts_with("`a`, `b` already exist;"), "{exists}");
        let foreign = Error::Foreign {
            manifest: "out/.dlspec-manifest".into(),
            paths: (0..12).map(|n| format!("out/{n}").into()).collect(),
        };
        assert!(foreign.to_string().starts_with("12 files where dlspec writes"), "{foreign}");
        assert!(foreign.to_string().contains("\n  … and 2 more\nMove them away"), "{foreign}");
    }

    #[test]
    fn io_failures_keep_their_cause() {
        use std::error::Error as _;
        let error = Error::remove("out/a", io::Error::from(io::ErrorKind::NotFound));
        assert!(error.source().is_some());
        assert!(Error::Usage("x".into()).source().is_none());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(512 << 10), "512 KiB");
        assert_eq!(size_text(100), "100 bytes");
    }
}

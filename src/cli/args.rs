//! The command line's arguments: clap's types, one per command.

use camino::Utf8PathBuf;
use clap::{Args, CommandFactory as _, Parser, Subcommand};

use crate::diag::Format;

/// Compile KDL specs of deep-learning images into Dockerfiles, boot scripts and manifests.
#[derive(Debug, Parser)]
#[command(name = "dlspec", version = version(), about, long_about = None)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

impl Cli {
    /// The command, with the tables `dlspec compat` knows in its help.
    pub(super) fn command_with_tables() -> clap::Command {
        let tables = super::compat::table_names().join(", ");
        Self::command().mut_subcommand("compat", |compat| {
            compat.mut_arg("table", |table| table.help(format!("One table: {tables}")))
        })
    }
}

fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let commit = match crate::init::BUILT_FROM {
            Some(commit) if crate::init::BUILT_DIRTY => format!("commit {commit} with uncommitted changes, "),
            Some(commit) => format!("commit {commit}, "),
            None => String::new(),
        };
        format!(
            "{} ({commit}compatibility tables checked {})",
            env!("CARGO_PKG_VERSION"),
            crate::compat::get().checked()
        )
    })
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Compile every spec of SPECS_DIR into OUT (or, with --check, report what is stale).
    Compile(CompileArgs),
    /// Parse and check the specs, write nothing (the pre-commit entry point).
    Check(CheckArgs),
    /// List the expanded catalog: one line per image (reference, base, output directory), or only
    /// the images that changed since a commit.
    List(ListArgs),
    /// Print what the compatibility tables know.
    Compat(CompatArgs),
    /// Explain a diagnostic code, with an example of the fix (all codes without CODE).
    Explain(ExplainArgs),
    /// Start a catalog repository in DIR: specs/ with an example, pre-commit config, CI, .gitignore.
    Init(InitArgs),
    /// Print the completion script of a shell (e.g. `dlspec completions bash > /etc/bash_completion.d/dlspec`).
    Completions(CompletionsArgs),
    /// Resolve each image's Python set once with uv and record every file's sha256 under
    /// SPECS_DIR/.dlspec-lock/ (or, with --check, report the locks their specs outgrew).
    Lock(LockArgs),
}

impl Command {
    /// The subcommand's name and output format, for reporting a failure in the right form.
    pub(super) fn name_and_format(&self) -> (&'static str, Format) {
        match self {
            Self::Compile(a) if a.check => ("compile --check", a.common.format),
            Self::Compile(a) => ("compile", a.common.format),
            Self::Check(a) => ("check", a.common.format),
            Self::List(a) => ("list", a.format),
            Self::Compat(a) => ("compat", a.format),
            Self::Explain(a) => ("explain", a.format),
            Self::Init(a) => ("init", a.format),
            Self::Completions(_) => ("completions", Format::Human),
            Self::Lock(a) if a.check => ("lock --check", a.format),
            Self::Lock(a) => ("lock", a.format),
        }
    }
}

/// A path argument that is not empty: `--out ""` (an unset variable, say) would otherwise mean
/// the working directory.
pub(super) fn non_empty_path(value: &str) -> Result<Utf8PathBuf, String> {
    if value.is_empty() {
        return Err("an empty path; give a directory (`.` for the current one)".to_owned());
    }
    Ok(Utf8PathBuf::from(value))
}

#[derive(Debug, Args)]
pub(super) struct CommonArgs {
    /// Directory of `*.kdl` specs.
    #[arg(default_value = "specs", value_parser = non_empty_path)]
    pub(super) specs: Utf8PathBuf,
    /// Treat warnings as errors.
    #[arg(long)]
    pub(super) deny_warnings: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct CompileArgs {
    #[command(flatten)]
    pub(super) common: CommonArgs,
    /// Output directory.
    #[arg(long, default_value = "out", value_parser = non_empty_path)]
    pub(super) out: Utf8PathBuf,
    /// Write nothing; exit 1 and list every stale, missing, edited or orphaned file.
    #[arg(long)]
    pub(super) check: bool,
    /// Directory of templates that replace the built-in ones, by relative name (`image/Dockerfile.j2`).
    #[arg(long, value_name = "DIR", value_parser = non_empty_path)]
    pub(super) templates: Option<Utf8PathBuf>,
    /// Write into an output directory that holds files but no dlspec manifest.
    #[arg(long)]
    pub(super) force: bool,
    /// Print the count of errors and warnings, not the diagnostics themselves: for a pre-commit
    /// hook next to `dlspec check`, which prints them.
    #[arg(long)]
    pub(super) no_diagnostics: bool,
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    /// Directory of `*.kdl` specs.
    #[arg(default_value = "specs", value_parser = non_empty_path)]
    pub(super) specs: Utf8PathBuf,
    /// Only the images whose generated directory differs from its state at commit REV (a sha,
    /// branch or tag of the repository `--out` is in), committed or not: the images to build.
    #[arg(long, value_name = "REV")]
    pub(super) changed_since: Option<String>,
    /// Output directory, for `--changed-since` and the paths of the self-test Jobs.
    #[arg(long, default_value = "out", value_parser = non_empty_path)]
    pub(super) out: Utf8PathBuf,
    /// Output format: aligned columns (human), or one JSON document (json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct LockArgs {
    /// Directory of `*.kdl` specs; the locks are written to its `.dlspec-lock/`.
    #[arg(default_value = "specs")]
    pub(super) specs: Utf8PathBuf,
    /// Resolve nothing (offline): exit 1 when a lock no longer matches its spec's requirements or
    /// belongs to no image.
    #[arg(long, conflicts_with_all = ["upgrade", "digests"])]
    pub(super) check: bool,
    /// Re-resolve every package, or only the PACKAGEs named; other pins are kept.
    #[arg(long, num_args = 0.., value_name = "PACKAGE")]
    pub(super) upgrade: Option<Vec<String>>,
    /// Lock only these images: a name (`tensorflow`) or a reference (`name:tag`). Default: all.
    #[arg(long = "image", value_name = "NAME")]
    pub(super) images: Vec<String>,
    /// Also record each base image's digest (`tag@sha256:…`), asking its registry.
    #[arg(long)]
    pub(super) digests: bool,
    /// The uv program (pinned in .ci/requirements.txt).
    #[arg(long, default_value = "uv")]
    pub(super) uv: Utf8PathBuf,
    /// Images resolved at the same time.
    #[arg(long, default_value_t = 4)]
    pub(super) jobs: usize,
    /// A directory or URL of wheels uv may also use (uv's `--find-links`).
    #[arg(long, value_name = "DIR|URL")]
    pub(super) find_links: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct ExplainArgs {
    /// A code such as `dlspec::compat::torchvision` (the `dlspec::` prefix may be left out).
    pub(super) code: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct CompatArgs {
    /// One table (all of them without it); its help lists them.
    pub(super) table: Option<String>,
    /// Output format: aligned columns (human), or the tables' rows as JSON (json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// The new repository's directory (created when missing).
    #[arg(default_value = ".")]
    pub(super) dir: Utf8PathBuf,
    /// The git URL (or path) of the dlspec repository the catalog's CI installs dlspec from
    /// (default: the `repository` of dlspec's Cargo.toml, when the build has one).
    #[arg(long, value_name = "URL")]
    pub(super) hooks_repo: Option<String>,
    /// The dlspec commit (or tag) CI installs (default: the commit this dlspec was built from).
    #[arg(long)]
    pub(super) rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
}

#[derive(Debug, Args)]
pub(super) struct CompletionsArgs {
    /// The shell.
    pub(super) shell: clap_complete::Shell,
}

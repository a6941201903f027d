//! The command line: `dlspec compile`, `check`, `list`, `compat`, `explain`, `init`, `completions`.
//! Exit codes: 0 success, 1 the specs have errors (or `--check` found stale output), 2 usage or I/O
//! failure. With `--format json` every command prints one JSON document on stdout (the shapes are
//! in docs/spec-reference.md, "JSON output").

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use camino::{Utf8Path, Utf8PathBuf};
use clap::{Args, CommandFactory as _, Parser, Subcommand};
use serde_json::{Value, json};

use crate::diag::{Diagnostics, Format, Renderer, Severity};
use crate::emit::{self, Change, FileReport, Mode};
use crate::error::Error;
use crate::source::{self, SourceMap};

/// Compile KDL specs of deep-learning images into Dockerfiles, boot scripts and manifests.
#[derive(Debug, Parser)]
#[command(name = "dlspec", version = version(), about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        format!("{} (compatibility tables checked {})", env!("CARGO_PKG_VERSION"), crate::compat::get().checked())
    })
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile every spec of SPECS_DIR into OUT (or, with --check, report what is stale).
    Compile(CompileArgs),
    /// Parse and check the specs, write nothing (the pre-commit entry point).
    Check(CheckArgs),
    /// List the expanded catalog: one line per image (reference, base, output directory).
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
    fn name_and_format(&self) -> (&'static str, Format) {
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
fn non_empty_path(value: &str) -> Result<Utf8PathBuf, String> {
    if value.is_empty() {
        return Err("an empty path; give a directory (`.` for the current one)".to_owned());
    }
    Ok(Utf8PathBuf::from(value))
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Directory of `*.kdl` specs.
    #[arg(default_value = "specs", value_parser = non_empty_path)]
    specs: Utf8PathBuf,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct CompileArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Output directory.
    #[arg(long, default_value = "out", value_parser = non_empty_path)]
    out: Utf8PathBuf,
    /// Write nothing; exit 1 and list every stale, missing, edited or orphaned file.
    #[arg(long)]
    check: bool,
    /// Directory of templates that replace the built-in ones, by relative name (`image/Dockerfile.j2`).
    #[arg(long, value_name = "DIR", value_parser = non_empty_path)]
    templates: Option<Utf8PathBuf>,
    /// Write into an output directory that holds files but no dlspec manifest.
    #[arg(long)]
    force: bool,
    /// Print the count of errors and warnings, not the diagnostics themselves: for a pre-commit
    /// hook next to `dlspec check`, which prints them.
    #[arg(long)]
    no_diagnostics: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Directory of `*.kdl` specs.
    #[arg(default_value = "specs", value_parser = non_empty_path)]
    specs: Utf8PathBuf,
    /// Output format: aligned columns (human), or one JSON document (json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct LockArgs {
    /// Directory of `*.kdl` specs; the locks are written to its `.dlspec-lock/`.
    #[arg(default_value = "specs")]
    specs: Utf8PathBuf,
    /// Resolve nothing (offline): exit 1 when a lock no longer matches its spec's requirements or
    /// belongs to no image.
    #[arg(long, conflicts_with_all = ["upgrade", "digests"])]
    check: bool,
    /// Re-resolve every package, or only the PACKAGEs named; other pins are kept.
    #[arg(long, num_args = 0.., value_name = "PACKAGE")]
    upgrade: Option<Vec<String>>,
    /// Lock only these images: a name (`tensorflow`) or a reference (`name:tag`). Default: all.
    #[arg(long = "image", value_name = "NAME")]
    images: Vec<String>,
    /// Also record each base image's digest (`tag@sha256:…`), asking its registry.
    #[arg(long)]
    digests: bool,
    /// The uv program (pinned in .ci/requirements.txt).
    #[arg(long, default_value = "uv")]
    uv: Utf8PathBuf,
    /// Images resolved at the same time.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// A directory or URL of wheels uv may also use (uv's `--find-links`).
    #[arg(long, value_name = "DIR|URL")]
    find_links: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// A code such as `dlspec::compat::torchvision` (the `dlspec::` prefix may be left out).
    code: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct CompatArgs {
    /// One table: pytorch, tensorflow, jax, paddle, miniconda, miniforge, cuda, cudnn, wheels, removed, os,
    /// nvidia_require, cuda_drivers, gpu_brands, gpus, gpu_arch, gpu_memory, timezones.
    table: Option<String>,
    /// Output format: aligned columns (human), or the tables' rows as JSON (json).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The new repository's directory (created when missing).
    #[arg(default_value = ".")]
    dir: Utf8PathBuf,
    /// The git URL (or path) of the dlspec repository whose hooks the catalog uses (default: the
    /// `repository` of dlspec's Cargo.toml, when the build has one).
    #[arg(long, value_name = "URL")]
    hooks_repo: Option<String>,
    /// The dlspec commit or tag to pin (default: the release tag of this dlspec).
    #[arg(long, default_value = concat!("v", env!("CARGO_PKG_VERSION")))]
    rev: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Runs the command line and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let (name, format) = cli.command.name_and_format();
    let result = match cli.command {
        Command::Compile(args) => compile(&args),
        Command::Check(args) => check(&args),
        Command::List(args) => list(&args),
        Command::Compat(args) => compat(&args),
        Command::Explain(args) => explain(&args),
        Command::Init(args) => init(&args),
        Command::Completions(args) => {
            clap_complete::generate(args.shell, &mut Cli::command(), "dlspec", &mut std::io::stdout().lock());
            Ok(0)
        }
        Command::Lock(args) => lock(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            print_error(name, format, &e);
            ExitCode::from(2)
        }
    }
}

/// Reports the error that ends a command (exit code 2).
fn print_error(command: &str, format: Format, error: &Error) {
    match format {
        Format::Human => eprintln!("error: {error}"),
        Format::Json => print_json(&json!({ "command": command, "ok": false, "error": error.to_string() })),
    }
}

/// Prints the one JSON document of a run.
fn print_json(value: &Value) {
    // Write errors (a closed pipe, say) are ignored: the exit code still tells the outcome.
    let _ = writeln!(std::io::stdout().lock(), "{value}");
}

/// `1 file`, `2 files`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// The diagnostics of a run: printed on stderr for people, kept for the JSON document.
struct Reported {
    errors: usize,
    warnings: usize,
    /// The diagnostics' JSON objects, as text (`--format json` only).
    json: Vec<Box<str>>,
}

impl Reported {
    fn failed(&self) -> bool {
        self.errors > 0
    }

    /// The fields every JSON document with diagnostics has.
    fn json_fields(self, command: &str) -> Document {
        let mut fields = serde_json::Map::new();
        fields.insert("command".into(), command.into());
        fields.insert("ok".into(), (self.errors == 0).into());
        fields.insert("errors".into(), self.errors.into());
        fields.insert("warnings".into(), self.warnings.into());
        fields.insert(DIAGNOSTICS.into(), Value::Null);
        Document { fields, diagnostics: self.json }
    }
}

/// The key of the diagnostics in a JSON document.
const DIAGNOSTICS: &str = "diagnostics";

/// A JSON document with diagnostics: its fields, and each diagnostic as its JSON text, put in
/// place of the `diagnostics` field when it is printed (a `serde_json::Value` of a diagnostic
/// takes 2 KB, its text 300 bytes: a catalog of 100,000 errors would take hundreds of MB).
struct Document {
    fields: serde_json::Map<String, Value>,
    diagnostics: Vec<Box<str>>,
}

impl std::ops::Deref for Document {
    type Target = serde_json::Map<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.fields
    }
}

impl std::ops::DerefMut for Document {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.fields
    }
}

impl Document {
    /// Prints the document on one line, a diagnostic at a time.
    fn print(&self) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let mut write = || -> std::io::Result<()> {
            out.write_all(b"{")?;
            for (n, (key, value)) in self.fields.iter().enumerate() {
                write!(out, "{}{}:", if n > 0 { "," } else { "" }, Value::from(key.as_str()))?;
                if key != DIAGNOSTICS {
                    write!(out, "{value}")?;
                    continue;
                }
                out.write_all(b"[")?;
                for (n, diagnostic) in self.diagnostics.iter().enumerate() {
                    write!(out, "{}{diagnostic}", if n > 0 { "," } else { "" })?;
                }
                out.write_all(b"]")?;
            }
            out.write_all(b"}\n")?;
            out.flush()
        };
        // Write errors (a closed pipe, say) are ignored: the exit code still tells the outcome.
        let _ = write();
    }
}

/// Prints the diagnostics (unless `!show`) and the count line (human), or keeps them (json).
fn report(sources: &SourceMap, mut diags: Diagnostics, deny_warnings: bool, format: Format, show: bool) -> Reported {
    if deny_warnings {
        diags.deny_warnings();
    }
    let renderer = Renderer::new(sources, color());
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    let sorted = diags.sorted(sources);
    if format == Format::Json {
        return Reported {
            errors,
            warnings,
            json: sorted.iter().map(|d| renderer.json_text(d).into_boxed_str()).collect(),
        };
    }
    let mut stderr = std::io::stderr().lock();
    for diag in sorted.iter().filter(|_| show) {
        let _ = write!(stderr, "{}", renderer.human(diag));
        let _ = writeln!(stderr);
    }
    if errors + warnings > 0 && show {
        let _ = writeln!(stderr, "{}", count_line(errors, warnings));
    } else if errors + warnings > 0 {
        let counts = match (errors, warnings) {
            (0, w) => count(w, "warning"),
            (e, 0) => count(e, "error"),
            (e, w) => format!("{} and {}", count(e, "error"), count(w, "warning")),
        };
        let _ = writeln!(stderr, "the specs have {counts}; `dlspec check` prints the diagnostics");
    }
    Reported { errors, warnings, json: Vec::new() }
}

fn count_line(errors: usize, warnings: usize) -> String {
    match (errors, warnings) {
        (0, w) => format!("{} emitted", count(w, "warning")),
        (e, 0) => format!("{} emitted; nothing written", count(e, "error")),
        (e, w) => format!("{} and {} emitted; nothing written", count(e, "error"), count(w, "warning")),
    }
}

fn check(args: &CheckArgs) -> Result<u8, Error> {
    let sources = source::discover(&args.common.specs)?;
    let crate::pipeline::Analysis { checked, diags, .. } = crate::pipeline::analyze_catalog(&sources, None);
    let images = &checked.entries;
    let reported = report(&sources, diags, args.common.deny_warnings, args.common.format, true);
    let failed = reported.failed();
    let specs = sources.iter().count();
    match args.common.format {
        Format::Json => {
            let mut fields = reported.json_fields("check");
            fields.insert("specs".into(), specs.into());
            fields.insert("images".into(), if failed { Value::Null } else { images.len().into() });
            fields.print();
        }
        Format::Human if !failed => {
            eprintln!("{} checked: {}, no errors", count(specs, "spec"), count(images.len(), "image"));
        }
        Format::Human => {}
    }
    Ok(u8::from(failed))
}

fn list(args: &ListArgs) -> Result<u8, Error> {
    let sources = source::discover(&args.specs)?;
    let crate::pipeline::Analysis { checked, diags, .. } = crate::pipeline::analyze_catalog(&sources, None);
    let images = &checked.entries;
    // stdout is the list; errors go to stderr as text (or into the JSON document), warnings are
    // `dlspec check`'s business.
    let warnings = diags.warning_count();
    let mut errors = Diagnostics::default();
    for diag in diags.into_vec().into_iter().filter(|d| d.severity == Severity::Error) {
        errors.push(diag);
    }
    let mut reported = report(&sources, errors, false, args.format, true);
    if args.format == Format::Json {
        reported.warnings = warnings;
        let failed = reported.failed();
        let mut fields = reported.json_fields("list");
        let entries: Vec<Value> = if failed { Vec::new() } else { images.iter().map(list_entry).collect() };
        fields.insert("images".into(), entries.into());
        fields.print();
        return Ok(u8::from(failed));
    }
    if reported.failed() {
        return Ok(1);
    }
    if warnings > 0 {
        eprintln!("note: the specs have {}; `dlspec check` shows them", count(warnings, "warning"));
    }
    let mut out = std::io::stdout().lock();
    let width = |field: fn(&crate::model::Entry) -> &str| images.iter().map(|i| field(i).len()).max();
    let reference = width(crate::model::Entry::reference).unwrap_or(0);
    let base = width(crate::model::Entry::base_image).unwrap_or(0);
    for image in images.iter() {
        let _ = writeln!(out, "{:<reference$}  {:<base$}  {}", image.reference(), image.base_image(), image.dir());
    }
    Ok(0)
}

/// One image of `dlspec list --format json`.
fn list_entry(image: &crate::model::Entry) -> Value {
    json!({
        "reference": image.reference(),
        "name": image.name(),
        "tag": image.tag(),
        "base": image.base_image(),
        "gpu": image.gpu(),
        "dir": image.dir(),
        "spec": image.spec(),
        "pools": image.pool_verdicts(),
    })
}

fn explain(args: &ExplainArgs) -> Result<u8, Error> {
    use crate::diag::{Code, explain};
    let mut out = std::io::stdout().lock();
    let code = match &args.code {
        None => None,
        Some(text) => Some(text.parse::<Code>().map_err(|unknown| unknown_code(text, unknown.nearest))?),
    };
    if args.format == Format::Json {
        let document = match code {
            None => json!({ "command": "explain", "ok": true, "codes": Code::ALL }),
            Some(code) => json!({ "command": "explain", "ok": true, "code": code, "text": explain::explain(code) }),
        };
        print_json(&document);
        return Ok(0);
    }
    let Some(code) = code else {
        let width = Code::ALL.iter().map(|c| c.as_str().len()).max().unwrap_or(0);
        for code in Code::ALL {
            let _ = writeln!(out, "{code:<width$}  {}", code.summary());
        }
        let _ = writeln!(out, "\n`dlspec explain CODE` explains one; docs/diagnostics.md has them all");
        return Ok(0);
    };
    let _ = writeln!(out, "{code}\n\n{}", explain::explain(code));
    Ok(0)
}

fn unknown_code(code: &str, nearest: Option<crate::diag::Code>) -> Error {
    Error::Usage(match nearest {
        Some(best) => format!("unknown code `{code}`; did you mean `{best}`?"),
        None => format!("unknown code `{code}`; `dlspec explain` lists the codes"),
    })
}

fn compile(args: &CompileArgs) -> Result<u8, Error> {
    let format = args.common.format;
    let command = if args.check { "compile --check" } else { "compile" };
    let sources = source::discover(&args.common.specs)?;
    let crate::pipeline::Analysis { checked, diags, lock_messages } =
        crate::pipeline::analyze_catalog(&sources, Some(&args.common.specs));
    let reported = report(&sources, diags, args.common.deny_warnings, format, !args.no_diagnostics);
    if reported.failed() {
        if format == Format::Json {
            let mut fields = reported.json_fields(command);
            fields.insert("out".into(), args.out.as_str().into());
            fields.insert(if args.check { "check" } else { "written" }.into(), Value::Null);
            fields.print();
        }
        return Ok(1);
    }
    // `--templates` wins over the catalog's `templates`, which is relative to the specs directory.
    let specs_dir = if args.common.specs.is_file() {
        args.common.specs.parent().map(Utf8Path::to_path_buf).unwrap_or_default()
    } else {
        args.common.specs.clone()
    };
    for message in lock_messages {
        eprintln!("warning: {message}");
    }
    let templates_dir =
        args.templates.clone().or_else(|| checked.catalog.templates.as_ref().map(|t| specs_dir.join(t)));
    let templates = crate::render::Templates::load(templates_dir.as_deref())?;
    let (out_name, templates_name) = (args.out.clone(), templates_dir.clone());
    let _guard = crate::render::MemoryGuard::arm(crate::render::RENDER_MEMORY, move |resident| {
        let error = Error::TooMuchMemory {
            used: resident,
            limit: crate::render::RENDER_MEMORY,
            templates: templates_name,
            out: out_name,
        };
        print_error(command, format, &error);
        std::process::exit(2);
    });
    let image_count = checked.entries.len();
    let out = &args.out;
    let json = format == Format::Json;
    if args.check {
        let mut listed = Vec::new();
        // Printed as found: the human report of a large catalog is never held whole.
        let summary = crate::pipeline::sync_out(&checked, &templates, out, Mode::Check, &mut |report| {
            match report.state {
                // A kept file (no longer generated, edited by hand) is the user's now.
                Change::Kept => {}
                _ if json => listed.push(check_json(out, &report)),
                _ => print_check_line(out, &report),
            }
        })?;
        let clean = summary.is_clean();
        if !clean && summary.changed + summary.orphaned + summary.leftovers == 0 {
            // Every file as planned, but not the record of them.
            let report = FileReport { path: emit::MANIFEST.into(), state: Change::Stale, diff: None };
            if json {
                listed.push(check_json(out, &report));
            } else {
                print_check_line(out, &report);
            }
        }
        // Orphans and leftovers are not planned files, so they are counted on their own; with
        // neither, the manifest is the file out of date.
        let planned =
            if summary.orphaned + summary.leftovers == 0 && !clean { summary.changed.max(1) } else { summary.changed };
        if json {
            let mut fields = reported.json_fields(command);
            fields.insert("ok".into(), clean.into());
            fields.insert("out".into(), out.as_str().into());
            fields.insert(
                "check".into(),
                json!({
                    "up_to_date": clean,
                    "planned": summary.files,
                    "unchanged": summary.unchanged,
                    "out_of_date": planned,
                    "orphaned": summary.orphaned,
                    "leftovers": summary.leftovers,
                    "manifest_problem": summary.manifest_problem,
                    "files": listed,
                }),
            );
            fields.print();
            return Ok(u8::from(!clean));
        }
        if let Some(problem) = &summary.manifest_problem {
            eprintln!("warning: {problem}");
        }
        if clean {
            eprintln!("`{out}` is up to date ({})", count(summary.files, "file"));
            return Ok(0);
        }
        let mut line = format!("{planned} of {} out of date", count(summary.files, "file"));
        if summary.orphaned > 0 {
            line.push_str(&format!(", {} orphaned", summary.orphaned));
        }
        if summary.leftovers > 0 {
            line.push_str(&format!(", {} left by an interrupted compile", summary.leftovers));
        }
        eprintln!("{line} in `{out}`");
        eprintln!("hint: run `dlspec compile` and commit `{out}`");
        return Ok(1);
    }
    let (mut overwritten, mut kept, mut foreign) = (Vec::new(), Vec::new(), Vec::new());
    let summary =
        crate::pipeline::sync_out(&checked, &templates, out, Mode::Write { force: args.force }, &mut |report| {
            let path = out.join(&report.path);
            match report.state {
                Change::Edited => overwritten.push(path),
                Change::Kept => kept.push(path),
                Change::Foreign => foreign.push(path),
                _ => {}
            }
        })?;
    if json {
        let mut fields = reported.json_fields(command);
        fields.insert("out".into(), out.as_str().into());
        fields.insert(
            "written".into(),
            json!({
                "images": image_count,
                "written": summary.written,
                "removed": summary.orphaned,
                "unchanged": summary.unchanged,
                "overwritten_edits": overwritten,
                "kept_edits": kept,
                "overwritten_foreign": foreign,
                "manifest_problem": summary.manifest_problem,
            }),
        );
        fields.print();
        return Ok(0);
    }
    for path in &overwritten {
        eprintln!(
            "warning: `{path}` was edited by hand; the edit is overwritten (change the spec or a template instead)"
        );
    }
    for path in &kept {
        eprintln!("warning: `{path}` is no longer generated but was edited by hand; it is left in place");
    }
    for path in &foreign {
        eprintln!("warning: `{path}` was not written by dlspec; overwritten (--force)");
    }
    if let Some(problem) = &summary.manifest_problem {
        eprintln!("warning: {problem}");
    }
    eprintln!(
        "{}: {} written, {} removed, {} unchanged in `{out}`",
        count(image_count, "image"),
        count(summary.written, "file"),
        summary.orphaned,
        summary.unchanged
    );
    Ok(0)
}

/// One file of `compile --check`, with its diff; stdout is locked for the file only (a guard
/// may report on another thread).
fn print_check_line(out: &Utf8Path, report: &FileReport) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{:<9} {}", report.state.word(), out.join(&report.path));
    for line in report.diff.iter().flat_map(|d| d.lines()) {
        let _ = writeln!(stdout, "    {line}");
    }
}

/// One file of `compile --check --format json`.
fn check_json(out: &Utf8Path, report: &FileReport) -> Value {
    json!({ "path": out.join(&report.path), "state": report.state.word(), "diff": report.diff })
}

fn compat(args: &CompatArgs) -> Result<u8, Error> {
    let compat = crate::compat::get();
    let mut out = std::io::stdout().lock();
    let table = args.table.as_deref();
    let frameworks = crate::framework::FRAMEWORKS;
    let known: Vec<&str> = frameworks
        .iter()
        .map(|f| f.keyword())
        .chain(["miniconda", "miniforge", "cuda", "cudnn", "wheels", "removed", "os"])
        .chain(GPU_TABLES)
        .chain(["timezones"])
        .collect();
    if let Some(t) = table
        && !known.contains(&t)
    {
        return Err(Error::Usage(format!(
            "unknown table `{t}`; {}",
            crate::diag::did_you_mean(t, &known, "the tables are")
        )));
    }
    let show = |name: &str| table.is_none_or(|t| t == name);
    if args.format == Format::Json {
        // The tables as they are embedded: every row as an object from column to cell.
        let tables: Vec<Value> = compat
            .tables
            .iter()
            .filter(|t| match table {
                Some(name) => table_name(t.file) == name,
                None => table_name(t.file) != "timezones",
            })
            .map(|t| {
                let rows: Vec<serde_json::Map<String, Value>> = t
                    .rows()
                    .iter()
                    .map(|row| t.columns().iter().cloned().zip(row.iter().map(|cell| cell.as_str().into())).collect())
                    .collect();
                json!({ "file": t.file, "name": table_name(t.file), "checked": t.checked, "sources": t.sources, "rows": rows })
            })
            .collect();
        print_json(&json!({ "command": "compat", "ok": true, "checked": compat.checked(), "tables": tables }));
        return Ok(0);
    }
    let _ = writeln!(out, "compatibility tables, checked {}", compat.checked());
    for t in &compat.tables {
        let _ =
            writeln!(out, "  {} ({}): {}", t.file, count(t.len(), "row"), t.sources.first().map_or("", String::as_str));
    }
    for framework in frameworks.iter().filter(|f| show(f.keyword())) {
        let _ = writeln!(out);
        for line in framework.describe(compat) {
            let _ = writeln!(out, "{line}");
        }
    }
    if show("miniconda") {
        let _ = writeln!(out, "\nminiconda: python  installer  sha256  terms");
        for r in compat.miniconda.iter().filter(|m| m.arch == "x86_64") {
            let sha = if r.sha256.is_some() { "sha256" } else { "-" };
            let tos = if r.tos { "accept-tos" } else { "-" };
            let _ = writeln!(out, "  {:<5} {:<45} {sha:<6} {tos}", r.python, r.installer);
        }
    }
    if show("miniforge") {
        let _ = writeln!(out, "\nminiforge: python  installer  conda (newest release first; one Python a release)");
        for r in &compat.miniforge {
            let _ = writeln!(out, "  {:<5} {:<45} {}", r.python, r.installer, r.conda_version);
        }
    }
    if show("cuda") {
        let _ = writeln!(out, "\ncuda: version  os  cudnn  flavors  status");
        for r in &compat.cuda_tags {
            let cudnn = if r.cudnn.is_empty() { "-" } else { &r.cudnn };
            let _ = writeln!(out, "  {:<7} {:<12} {cudnn:<7} {:<18} {}", r.cuda, r.os, r.flavors.join(","), r.status);
        }
    }
    if show("cudnn") {
        let _ = writeln!(out, "\ncudnn: cuda  os  cudnn  nccl  (earlier cuDNN of the same tag)");
        for r in &compat.cudnn_in_tags {
            let nccl = r.nccl.as_deref().unwrap_or("-");
            let history = if r.history == "-" { String::new() } else { format!("  (was {})", r.history) };
            let _ = writeln!(out, "  {:<7} {:<12} {:<11} {nccl:<8}{history}", r.cuda, r.os, r.cudnn);
        }
    }
    if show("wheels") {
        let _ = writeln!(
            out,
            "\nwheels: framework  version  manylinux (glibc)  pip CUDA libraries: variant cudnn nccl (glibc) pythons"
        );
        for r in &compat.wheels {
            let pip = if r.pip_variant.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{} cudnn {} nccl {} ({}) on {}",
                    r.pip_variant, r.pip_cudnn, r.pip_nccl, r.pip_glibc, r.pip_pythons
                )
            };
            let _ = writeln!(out, "  {:<10} {:<12} {} ({})  {pip}", r.framework, r.version, r.manylinux, r.glibc);
        }
    }
    if show("removed") {
        let _ = writeln!(out, "\nremoved: tags Docker Hub no longer serves");
        for r in &compat.removed_tags {
            let _ = writeln!(out, "  {}:{}*  removed {}  ({})", r.image, r.prefix, r.removed, r.source);
        }
    }
    if show("os") {
        let _ = writeln!(out, "\nos: release  image  glibc  openssh  end of standard support");
        for r in &compat.os {
            let _ = writeln!(
                out,
                "  {:<12} {:<14} {:<5} {:<8} {} ({})",
                r.os, r.image, r.glibc, r.openssh, r.eol, r.status
            );
        }
    }
    let gpu = &compat.gpu;
    if show("nvidia_require") {
        let _ =
            writeln!(out, "\nnvidia_require: cuda  os  NVIDIA_REQUIRE_CUDA  forward-compatibility exceptions  (since)");
        for r in &gpu.requirements {
            let require = r.require.as_deref().map_or_else(|| "unknown".to_owned(), |c| format!("cuda>={c}"));
            let clauses: Vec<String> =
                r.clauses.iter().map(|(branch, brands)| format!("R{branch}:{}", brands.join(","))).collect();
            let any = r.any_driver.as_deref().map(|d| format!(" or any brand from {d}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<7} {:<36} {require:<11} {}{any}  ({})",
                r.cuda,
                r.os.join(","),
                clauses.join(" "),
                r.since
            );
        }
    }
    if show("cuda_drivers") {
        let _ = writeln!(out, "\ncuda_drivers: cuda  oldest driver  minor-version compatibility from");
        for d in &gpu.drivers {
            let _ = writeln!(out, "  {:<7} {:<13} {}", d.cuda, d.min_driver, d.minor_compat);
        }
    }
    if show("gpu_brands") {
        let _ = writeln!(out, "\ngpu_brands: class  driver brands  forward compatibility");
        for b in &gpu.brands {
            let fc = match b.forward_compat {
                crate::compat::gpu::ForwardCompat::Yes => "yes",
                crate::compat::gpu::ForwardCompat::No => "no",
                crate::compat::gpu::ForwardCompat::Select => "select products",
            };
            let _ = writeln!(out, "  {:<12} {:<36} {fc}", b.class.name(), b.brands.join(","));
        }
    }
    if show("gpus") {
        let _ = writeln!(out, "\ngpus: nvidia.com/gpu.product  compute  architecture  class");
        for g in &gpu.gpus {
            let _ = writeln!(
                out,
                "  {:<56} {:<7} {:<13} {}",
                g.product.as_deref().unwrap_or("-"),
                g.compute.to_string(),
                g.architecture,
                g.class.name()
            );
        }
    }
    if show("gpu_arch") {
        let _ = writeln!(out, "\ngpu_arch: framework  releases  build  kernels");
        for a in &gpu.arch {
            let releases = if a.first == a.last { a.first.clone() } else { format!("{}-{}", a.first, a.last) };
            let kernels = a.kernels.as_ref().map_or_else(
                || "unknown".to_owned(),
                |k| if k.inferred { format!("{} (inferred)", k.describe()) } else { k.describe() },
            );
            let _ = writeln!(out, "  {:<10} {:<14} {:<8} {kernels}", a.framework, releases, a.variants.join(","));
        }
    }
    if show("gpu_memory") {
        let _ = writeln!(out, "\ngpu_memory: framework  releases  what stops it taking the GPU's memory at start");
        for p in &gpu.preallocation {
            let _ = writeln!(out, "  {:<10} {}-{:<10} {}={}", p.framework, p.first, p.last, p.variable, p.value);
        }
    }
    if table == Some("timezones") {
        for tz in &compat.timezones {
            let _ = writeln!(out, "{tz}");
        }
    }
    Ok(0)
}

/// The GPU tables, by the name `dlspec compat TABLE` knows them.
const GPU_TABLES: [&str; 6] = ["nvidia_require", "cuda_drivers", "gpu_brands", "gpus", "gpu_arch", "gpu_memory"];

/// The name `dlspec compat TABLE` knows a data file by.
fn table_name(file: &str) -> &str {
    match file {
        "cuda_tags.tsv" => "cuda",
        other => other.split_once('.').map_or(other, |(stem, _)| stem),
    }
}

fn init(args: &InitArgs) -> Result<u8, Error> {
    let repo = match &args.hooks_repo {
        Some(repo) => repo.clone(),
        None if !env!("CARGO_PKG_REPOSITORY").is_empty() => env!("CARGO_PKG_REPOSITORY").to_owned(),
        None => {
            return Err(Error::Usage(
                "this dlspec was built without a `repository` in its Cargo.toml: pass --hooks-repo URL, \
                 the git URL of the dlspec your platform uses"
                    .to_owned(),
            ));
        }
    };
    let source = crate::init::Source { repo, rev: args.rev.clone() };
    let files = crate::init::render(&source)?;
    crate::init::write(&args.dir, &files)?;
    let created: Vec<Utf8PathBuf> = files.iter().map(|(path, _)| args.dir.join(path)).collect();
    match args.format {
        Format::Json => {
            print_json(&json!({ "command": "init", "ok": true, "dir": args.dir, "created": created }));
        }
        Format::Human => {
            for path in &created {
                eprintln!("created `{path}`");
            }
            eprintln!(
                "next, in `{}`: `dlspec compile`, `git init && git add . && git commit`, `pre-commit install`",
                args.dir
            );
        }
    }
    Ok(0)
}

/// What `dlspec lock` did for one image.
enum Locked {
    /// The lock was current and nothing asked to change it.
    Kept,
    /// The lock was written.
    Written,
    /// uv found no set: a diagnostic on the spec lines.
    Unresolvable(String),
    /// uv, the registry or the file system failed.
    Failed(String),
}

fn lock(args: &LockArgs) -> Result<u8, Error> {
    use crate::lock::{self, State};
    let sources = source::discover(&args.specs)?;
    let (images, diags) = crate::pipeline::analyze(&sources);
    let mut errors = Diagnostics::default();
    for diag in diags.into_vec().into_iter().filter(|d| d.severity == Severity::Error) {
        errors.push(diag);
    }
    let command = if args.check { "lock --check" } else { "lock" };
    // `lock --check` runs beside `dlspec check` (pre-commit): one count line, not the diagnostics again.
    let reported = report(&sources, errors, false, args.format, !args.check);
    if reported.failed() {
        if args.format == Format::Json {
            reported.json_fields(command).print();
        }
        return Ok(1);
    }
    if args.check {
        return lock_check(&args.specs, &images, args.format);
    }
    let selected: Vec<&crate::model::Image> = images
        .iter()
        .filter(|i| args.images.is_empty() || args.images.iter().any(|n| *n == i.name || *n == i.reference))
        .collect();
    if selected.is_empty() {
        return Err(Error::Usage(format!("no image of `{}` is named {}", args.specs, args.images.join(", "))));
    }
    let uv = lock::Uv {
        program: args.uv.clone(),
        upgrade_all: args.upgrade.as_ref().is_some_and(Vec::is_empty),
        upgrade: args.upgrade.clone().unwrap_or_default(),
        find_links: args.find_links.clone(),
    };
    let started = std::time::Instant::now();
    let outcomes = crate::parallel::map(&selected, args.jobs, |image| {
        let request = lock::Request::of(image);
        let state = lock::state(&args.specs, image);
        let previous = match &state {
            State::Current(l) | State::Stale(l) | State::OldHeader(l) => Some(l.clone()),
            State::Missing | State::Broken(_) => None,
        };
        // A lock of an older header whose input is current gets the new header, offline.
        let current = previous.as_ref().is_some_and(|l| l.input_hash == request.input_hash())
            && !matches!(state, State::Stale(_))
            && args.upgrade.is_none();
        let body = match (&previous, current) {
            (Some(previous), true) => previous.body.clone(),
            _ => match uv.resolve(&request, previous.as_ref().map(|l| l.body.as_str())) {
                Ok(body) => body,
                Err(lock::Failure::Unresolvable(reason)) => return Locked::Unresolvable(reason),
                Err(lock::Failure::Tool(reason)) => return Locked::Failed(reason),
            },
        };
        if let Err(e) = lock::well_formed(&body) {
            return Locked::Failed(format!("uv's output is not a lock dlspec can use ({e}); nothing written"));
        }
        let kept_digest = previous
            .as_ref()
            .and_then(|l| l.base_digest.clone())
            .filter(|d| lock::digest_of(d, &image.base.image).is_some());
        let base_digest = if args.digests {
            match crate::registry::digest(&image.base.image) {
                Ok(digest) => Some(format!("{}@{digest}", image.base.image)),
                Err(e) => return Locked::Failed(format!("{}: {e}", image.base.image)),
            }
        } else {
            kept_digest
        };
        let file = lock::LockFile { input_hash: request.input_hash(), base_digest, body };
        if matches!(state, State::Current(_)) && previous.as_ref() == Some(&file) {
            return Locked::Kept;
        }
        let relative = Utf8Path::new(lock::LOCK_DIR).join(format!("{}.txt", image.dir));
        let text = file.render(&image.reference);
        match crate::files::write_file_below(&args.specs, &relative, text.as_bytes(), crate::files::Existing::Replace) {
            Ok(()) => Locked::Written,
            Err(e) => Locked::Failed(e.to_string()),
        }
    });
    let json = args.format == Format::Json;
    let mut diags = Diagnostics::default();
    let (mut written, mut kept, mut failed) = (0, 0, 0);
    let mut listed = Vec::new();
    for (image, outcome) in selected.iter().zip(outcomes) {
        let (state, reason) = match outcome {
            Locked::Kept => {
                kept += 1;
                ("unchanged", None)
            }
            Locked::Written => {
                written += 1;
                ("written", None)
            }
            Locked::Unresolvable(reason) => {
                match unresolvable(image, &reason) {
                    Some(diag) => diags.push(diag),
                    None => {
                        if !json {
                            eprintln!(
                                "error: {}: no set of Python packages satisfies the spec: {reason}",
                                image.reference
                            );
                        }
                        failed += 1;
                    }
                }
                ("unresolvable", Some(reason))
            }
            Locked::Failed(reason) => {
                if !json {
                    eprintln!("error: {}: {reason}", image.reference);
                }
                failed += 1;
                ("failed", Some(reason))
            }
        };
        listed.push(json!({ "reference": image.reference, "state": state, "reason": reason }));
    }
    let unresolved = diags.error_count();
    let code = if failed > 0 { 2 } else { u8::from(unresolved > 0) };
    let reported = report(&sources, diags, false, args.format, true);
    if json {
        let mut fields = reported.json_fields(command);
        fields.insert("ok".into(), (code == 0).into());
        fields.insert("images".into(), listed.into());
        fields.print();
        return Ok(code);
    }
    eprintln!(
        "{} images: {written} locks written, {kept} unchanged, {} failed in {:.1}s",
        selected.len(),
        failed + unresolved,
        started.elapsed().as_secs_f64()
    );
    Ok(code)
}

/// `dlspec::lock::unresolvable` on the lines that asked for the set: the framework and the extras.
fn unresolvable(image: &crate::model::Image, reason: &str) -> Option<crate::diag::Diag> {
    let origin = &image.origin;
    let primary = origin.framework.or_else(|| origin.extra_pip.first().copied()).or(origin.python)?;
    let why: Vec<&str> = reason.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut diag = crate::diag::Diag::error(
        crate::diag::Code::Unresolvable,
        primary,
        format!("no set of Python packages satisfies `{}` for Python {}", image.reference, image.python.version),
        "asked for here",
    );
    for span in origin.extra_pip.iter().filter(|s| Some(**s) != Some(primary)) {
        diag = diag.with_label(*span, "and here");
    }
    Some(diag.with_help(format!(
        "change or drop the pins uv names, or pick a framework version for this Python; uv says: {}",
        why.join(" ")
    )))
}

/// `dlspec lock --check`: the exit code, 1 when a lock is stale, broken or orphaned.
fn lock_check(specs: &Utf8Path, images: &[crate::model::Image], format: Format) -> Result<u8, Error> {
    use crate::lock::{self, State};
    let mut problems = Vec::new();
    let mut current = 0;
    let mut expected = std::collections::BTreeSet::new();
    for image in images {
        let path = lock::lock_path(specs, image);
        match lock::state(specs, image) {
            State::Current(_) => current += 1,
            State::Stale(_) => problems.push(format!(
                "`{path}` is stale: the Python requirements of `{}` changed since it was locked; run `dlspec lock --image {}`",
                image.reference, image.name
            )),
            State::OldHeader(_) => problems.push(format!(
                "`{path}` has the header of an older dlspec, without the sha256 of its content; run `dlspec lock --image {}` \
                 (offline: a current lock is not resolved again)",
                image.name
            )),
            State::Broken(e) => problems.push(e),
            State::Missing => {}
        }
        expected.insert(path);
    }
    let dir = specs.join(lock::LOCK_DIR);
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => {
            for entry in walkdir::WalkDir::new(&dir).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::read(&dir, e.into()))?;
                let Some(path) = Utf8Path::from_path(entry.path()) else { continue };
                let kind = entry.file_type();
                if kind.is_dir() || (kind.is_file() && expected.contains(path)) {
                    continue;
                }
                let is_temp = entry.file_name().to_str().is_some_and(|n| n.starts_with(crate::files::TEMP_PREFIX));
                problems.push(if !kind.is_file() {
                    format!("`{path}` is not a regular file (a symlink, FIFO or device): dlspec reads no such file; remove it")
                } else if is_temp {
                    format!("`{path}` is the temporary file of a `dlspec lock` that did not finish: remove it")
                } else {
                    format!("`{path}` locks no image of `{specs}`: remove it")
                });
            }
        }
        Ok(meta) if meta.file_type().is_symlink() => {
            problems.push(crate::files::symlink_below(&dir, specs).to_string())
        }
        Ok(_) => problems.push(format!("`{dir}` is not a folder: remove it")),
        Err(_) => {}
    }
    if format == Format::Json {
        print_json(&json!({
            "command": "lock --check",
            "ok": problems.is_empty(),
            "locked": current,
            "unlocked": images.len() - current,
            "problems": problems,
        }));
        return Ok(u8::from(!problems.is_empty()));
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    if problems.is_empty() {
        eprintln!("{current} locks match their specs ({} images unlocked)", images.len() - current);
        return Ok(0);
    }
    Ok(1)
}

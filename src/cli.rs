//! The command line: `dlspec compile`, `check`, `list`, `compat`, `explain`. Exit codes: 0 success, 1 the specs
//! have errors (or `--check` found stale output), 2 usage or I/O failure.

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use camino::{Utf8Path, Utf8PathBuf};
use clap::{Args, Parser, Subcommand};

use crate::diag::{Diagnostics, Format, Renderer, Severity};
use crate::emit::{self, Change, FileReport, Mode};
use crate::source::{self, InputError, SourceMap};

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
    /// Diagnostics format.
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
    /// List format: aligned columns, or one JSON object per image.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// A code such as `dlspec::compat::torchvision` (the `dlspec::` prefix may be left out).
    code: Option<String>,
}

#[derive(Debug, Args)]
struct CompatArgs {
    /// One table: pytorch, tensorflow, miniconda, cuda, os, timezones.
    table: Option<String>,
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
    let result = match cli.command {
        Command::Compile(args) => compile(&args),
        Command::Check(args) => check(&args),
        Command::List(args) => list(&args),
        Command::Compat(args) => compat(&args),
        Command::Explain(args) => explain(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Prints the diagnostics and the count line; true when the run must stop (errors).
fn report(sources: &SourceMap, mut diags: Diagnostics, common: &CommonArgs) -> bool {
    if common.deny_warnings {
        diags.deny_warnings();
    }
    let renderer = Renderer::new(sources, color());
    let mut stderr = std::io::stderr().lock();
    let mut stdout = std::io::stdout().lock();
    for diag in diags.sorted(sources) {
        // Write errors (a closed pipe, say) are ignored: the exit code still tells the outcome.
        match common.format {
            Format::Human => {
                let _ = write!(stderr, "{}", renderer.human(&diag));
                let _ = writeln!(stderr);
            }
            Format::Json => {
                let _ = writeln!(stdout, "{}", renderer.json(&diag));
            }
        }
    }
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    if errors + warnings > 0 {
        let _ = writeln!(stderr, "{}", count_line(errors, warnings));
    }
    errors > 0
}

fn count_line(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => format!("{} emitted", plural(w, "warning")),
        (e, 0) => format!("{} emitted; nothing written", plural(e, "error")),
        (e, w) => format!("{} and {} emitted; nothing written", plural(e, "error"), plural(w, "warning")),
    }
}

fn check(args: &CheckArgs) -> Result<u8, InputError> {
    let sources = source::discover(&args.common.specs)?;
    let (images, diags) = crate::analyze(&sources);
    if report(&sources, diags, &args.common) {
        return Ok(1);
    }
    eprintln!("{} specs checked: {} images, no errors", sources.iter().count(), images.len());
    Ok(0)
}

fn list(args: &ListArgs) -> Result<u8, InputError> {
    let sources = source::discover(&args.specs)?;
    let (images, diags) = crate::analyze(&sources);
    // stdout is the list; errors go to stderr as text, warnings are `dlspec check`'s business.
    let warnings = diags.warning_count();
    let mut errors = Diagnostics::default();
    for diag in diags.into_vec().into_iter().filter(|d| d.severity == Severity::Error) {
        errors.push(diag);
    }
    let human = CommonArgs { specs: args.specs.clone(), deny_warnings: false, format: Format::Human };
    if report(&sources, errors, &human) {
        return Ok(1);
    }
    if warnings > 0 {
        eprintln!("note: the specs have {warnings} warnings; `dlspec check` shows them");
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Human => {
            let width = |field: fn(&crate::model::Image) -> &str| images.iter().map(|i| field(i).len()).max();
            let reference = width(|i| &i.reference).unwrap_or(0);
            let base = width(|i| &i.base.image).unwrap_or(0);
            for image in &images {
                let _ = writeln!(out, "{:<reference$}  {:<base$}  {}", image.reference, image.base.image, image.dir);
            }
        }
        Format::Json => {
            for image in &images {
                let entry = ListEntry {
                    reference: &image.reference,
                    name: &image.name,
                    tag: &image.tag,
                    base: &image.base.image,
                    gpu: image.base.gpu,
                    dir: image.dir.as_str(),
                    spec: &image.spec,
                };
                let _ = writeln!(out, "{}", serde_json::to_string(&entry).expect("plain strings serialize"));
            }
        }
    }
    Ok(0)
}

/// One line of `dlspec list --format json`.
#[derive(serde::Serialize)]
struct ListEntry<'a> {
    reference: &'a str,
    name: &'a str,
    tag: &'a str,
    base: &'a str,
    gpu: bool,
    dir: &'a str,
    spec: &'a str,
}

fn explain(args: &ExplainArgs) -> Result<u8, InputError> {
    use crate::diag::explain;
    let mut out = std::io::stdout().lock();
    let Some(code) = &args.code else {
        for code in explain::codes() {
            let _ = writeln!(out, "{code}");
        }
        let _ = writeln!(out, "\n`dlspec explain CODE` explains one; docs/diagnostics.md has them all");
        return Ok(0);
    };
    match explain::explain(code) {
        Ok(text) => {
            let code = if code.starts_with("dlspec::") { code.clone() } else { format!("dlspec::{code}") };
            let _ = writeln!(out, "{code}\n\n{text}");
            Ok(0)
        }
        Err(nearest) => Err(InputError(match nearest {
            Some(best) => format!("unknown code `{code}`; did you mean `{best}`?"),
            None => format!("unknown code `{code}`; `dlspec explain` lists the codes"),
        })),
    }
}

fn compile(args: &CompileArgs) -> Result<u8, InputError> {
    let sources = source::discover(&args.common.specs)?;
    let (images, diags) = crate::analyze(&sources);
    if report(&sources, diags, &args.common) {
        return Ok(1);
    }
    let templates = crate::render::Templates::load(args.templates.as_deref())?;
    let count = images.len();
    let out = &args.out;
    if args.check {
        let mut stdout = std::io::stdout().lock();
        // Printed as found: the report of a large catalog is never held whole.
        let summary = crate::sync_out(images, &templates, out, Mode::Check, &mut |report| {
            // A kept file (no longer generated, edited by hand) is the user's now.
            if report.state != Change::Kept {
                print_check_line(&mut stdout, out, &report);
            }
        })?;
        if summary.is_clean() {
            eprintln!("`{out}` is up to date ({} files)", summary.files);
            return Ok(0);
        }
        if summary.changed + summary.orphaned + summary.leftovers == 0 {
            let report = FileReport { path: emit::MANIFEST.into(), state: Change::Stale, diff: None };
            print_check_line(&mut stdout, out, &report);
        }
        if let Some(problem) = &summary.manifest_problem {
            eprintln!("warning: {problem}");
        }
        // Orphans and leftovers are not planned files, so they are counted on their own; with
        // neither, the manifest is the file out of date.
        let planned = if summary.orphaned + summary.leftovers == 0 { summary.changed.max(1) } else { summary.changed };
        let mut line = format!("{planned} of {} files out of date", summary.files);
        if summary.orphaned > 0 {
            line.push_str(&format!(", {} orphaned", summary.orphaned));
        }
        if summary.leftovers > 0 {
            line.push_str(&format!(
                ", {} left by an interrupted compile in `{}`",
                summary.leftovers,
                out.join(emit::WORK_DIR)
            ));
        }
        eprintln!("{line} in `{out}`");
        eprintln!("hint: run `dlspec compile` and commit `{out}`");
        return Ok(1);
    }
    let summary = crate::sync_out(images, &templates, out, Mode::Write { force: args.force }, &mut |report| {
        let path = out.join(&report.path);
        match report.state {
            Change::Edited => eprintln!(
                "warning: `{path}` was edited by hand; the edit is overwritten (change the spec or a template instead)"
            ),
            Change::Kept => {
                eprintln!("warning: `{path}` is no longer generated but was edited by hand; it is left in place")
            }
            Change::Foreign => eprintln!("warning: `{path}` was not written by dlspec; overwritten (--force)"),
            _ => {}
        }
    })?;
    if let Some(problem) = &summary.manifest_problem {
        eprintln!("warning: {problem}");
    }
    eprintln!(
        "{count} images: {} files written, {} removed, {} unchanged in `{out}`",
        summary.written, summary.orphaned, summary.unchanged
    );
    Ok(0)
}

fn print_check_line(stdout: &mut impl std::io::Write, out: &Utf8Path, report: &FileReport) {
    let _ = writeln!(stdout, "{:<9} {}", report.state.word(), out.join(&report.path));
    for line in report.diff.iter().flat_map(|d| d.lines()) {
        let _ = writeln!(stdout, "    {line}");
    }
}

fn compat(args: &CompatArgs) -> Result<u8, InputError> {
    let compat = crate::compat::get();
    let mut out = std::io::stdout().lock();
    let table = args.table.as_deref();
    let known = ["pytorch", "tensorflow", "miniconda", "cuda", "os", "timezones"];
    if let Some(t) = table
        && !known.contains(&t)
    {
        return Err(InputError(format!(
            "unknown table `{t}`; {}",
            crate::diag::did_you_mean(t, &known, "the tables are")
        )));
    }
    let show = |name: &str| table.is_none_or(|t| t == name);
    let _ = writeln!(out, "compatibility tables, checked {}", compat.checked());
    for t in &compat.tables {
        let _ = writeln!(out, "  {} ({} rows): {}", t.file, t.len(), t.sources.first().map_or("", String::as_str));
    }
    if show("pytorch") {
        let _ = writeln!(out, "\npytorch: torch  torchvision  torchaudio  python  variants");
        for r in &compat.torch {
            let _ = writeln!(
                out,
                "  {:<8} {:<8} {:<8} {}-{:<6} {}",
                r.torch,
                r.torchvision,
                r.torchaudio,
                r.python_min,
                r.python_max,
                r.variants.join(",")
            );
        }
    }
    if show("tensorflow") {
        let _ = writeln!(out, "\ntensorflow: version  python  cuda  cudnn  gpu-package");
        for r in &compat.tensorflow {
            let and_cuda = if r.and_cuda { " (tensorflow[and-cuda] too)" } else { "" };
            let _ = writeln!(
                out,
                "  {:<10} {}-{:<6} {:<5} {:<5} {}{and_cuda}",
                r.version, r.python_min, r.python_max, r.cuda, r.cudnn, r.gpu_package
            );
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
    if show("cuda") {
        let _ = writeln!(out, "\ncuda: version  os  cudnn  flavors  status");
        for r in &compat.cuda_tags {
            let cudnn = if r.cudnn.is_empty() { "-" } else { &r.cudnn };
            let _ = writeln!(out, "  {:<7} {:<12} {cudnn:<7} {:<18} {}", r.cuda, r.os, r.flavors.join(","), r.status);
        }
    }
    if show("os") {
        let _ = writeln!(out, "\nos: release  image  end of standard support");
        for r in &compat.os {
            let _ = writeln!(out, "  {:<12} {:<14} {} ({})", r.os, r.image, r.eol, r.status);
        }
    }
    if table == Some("timezones") {
        for tz in &compat.timezones {
            let _ = writeln!(out, "{tz}");
        }
    }
    Ok(0)
}

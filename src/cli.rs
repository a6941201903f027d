//! The command line: `dlspec compile`, `check`, `list`, `compat`, `explain`. Exit codes: 0 success, 1 the specs
//! have errors (or `--check` found stale output), 2 usage or I/O failure.

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use camino::{Utf8Path, Utf8PathBuf};
use clap::{Args, Parser, Subcommand};

use crate::diag::{Diagnostics, Format, Renderer, Severity};
use crate::emit::{self, Change};
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
    /// Resolve each image's Python set once with uv and record every file's sha256 under
    /// SPECS_DIR/.dlspec-lock/ (or, with --check, report the locks their specs outgrew).
    Lock(LockArgs),
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Directory of `*.kdl` specs.
    #[arg(default_value = "specs")]
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
    #[arg(long, default_value = "out")]
    out: Utf8PathBuf,
    /// Write nothing; exit 1 and list every stale, missing, edited or orphaned file.
    #[arg(long)]
    check: bool,
    /// Directory of templates that replace the built-in ones, by relative name (`image/Dockerfile.j2`).
    #[arg(long, value_name = "DIR")]
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
    #[arg(default_value = "specs")]
    specs: Utf8PathBuf,
    /// List format: aligned columns, or one JSON object per image.
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
        Command::Lock(args) => lock(&args),
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
    let (mut images, diags) = crate::analyze(&sources);
    if report(&sources, diags, &args.common) {
        return Ok(1);
    }
    for message in crate::lock::attach(&args.common.specs, &mut images) {
        eprintln!("warning: {message}");
    }
    let templates = crate::render::Templates::load(args.templates.as_deref())?;
    let plan = crate::plan::plan(&images, &templates)?;
    let diff = emit::diff(&plan, &args.out)?;
    if args.check {
        return Ok(report_check(&plan, &diff, &args.out));
    }
    if diff.foreign_dir(&args.out)? && !args.force {
        return Err(InputError(format!(
            "`{}` holds files but no {}: dlspec did not generate it. Pass --force to write into it anyway",
            args.out,
            emit::MANIFEST
        )));
    }
    let written = emit::write(&plan, &diff, &args.out)?;
    for path in &written.overwritten_edits {
        eprintln!(
            "warning: `{}` was edited by hand; the edit is overwritten (change the spec or a template instead)",
            args.out.join(path)
        );
    }
    for path in &diff.kept {
        eprintln!(
            "warning: `{}` is no longer generated but was edited by hand; it is left in place",
            args.out.join(path)
        );
    }
    eprintln!(
        "{} images: {} files written, {} removed, {} unchanged in `{}`",
        plan.images, written.written, written.removed, diff.unchanged, args.out
    );
    Ok(0)
}

fn report_check(plan: &crate::plan::Plan, diff: &emit::Diff, out: &Utf8Path) -> u8 {
    if diff.is_clean(plan) {
        eprintln!("`{out}` is up to date ({} files)", plan.files.len());
        return 0;
    }
    let mut stdout = std::io::stdout().lock();
    for (path, change) in &diff.changes {
        let _ = writeln!(stdout, "{:<9} {}", change.word(), out.join(path));
        if matches!(change, Change::Stale | Change::Edited) {
            let old = emit::current_bytes(out, path);
            let text = emit::unified(path, &old, &plan.files[path].bytes, 40);
            for line in text.lines() {
                let _ = writeln!(stdout, "    {line}");
            }
        }
    }
    if diff.changes.is_empty() {
        let _ = writeln!(stdout, "{:<9} {}", "stale", out.join(emit::MANIFEST));
    }
    // Orphans are not planned files, so they are counted on their own.
    let orphaned = diff.changes.values().filter(|c| matches!(c, Change::Orphaned)).count();
    let stale = diff.changes.len() - orphaned;
    let mut summary = format!("{} of {} files out of date", stale.max(usize::from(orphaned == 0)), plan.files.len());
    if orphaned > 0 {
        summary.push_str(&format!(", {orphaned} orphaned"));
    }
    eprintln!("{summary} in `{out}`");
    eprintln!("hint: run `dlspec compile` and commit `{out}`");
    1
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

fn lock(args: &LockArgs) -> Result<u8, InputError> {
    use crate::lock::{self, State};
    let sources = source::discover(&args.specs)?;
    let (images, diags) = crate::analyze(&sources);
    let mut errors = Diagnostics::default();
    for diag in diags.into_vec().into_iter().filter(|d| d.severity == Severity::Error) {
        errors.push(diag);
    }
    let human = CommonArgs { specs: args.specs.clone(), deny_warnings: false, format: Format::Human };
    if report(&sources, errors, &human) {
        return Ok(1);
    }
    if args.check {
        return lock_check(&args.specs, &images);
    }
    let selected: Vec<&crate::model::Image> = images
        .iter()
        .filter(|i| args.images.is_empty() || args.images.iter().any(|n| *n == i.name || *n == i.reference))
        .collect();
    if selected.is_empty() {
        return Err(InputError(format!("no image of `{}` is named {}", args.specs, args.images.join(", "))));
    }
    let uv = lock::Uv {
        program: args.uv.clone(),
        upgrade_all: args.upgrade.as_ref().is_some_and(Vec::is_empty),
        upgrade: args.upgrade.clone().unwrap_or_default(),
        find_links: args.find_links.clone(),
    };
    let started = std::time::Instant::now();
    let outcomes = lock::bounded(&selected, args.jobs, |image| {
        let state = lock::state(&args.specs, image);
        let previous = match &state {
            State::Current(l) | State::Stale(l) => Some(l.clone()),
            State::Missing | State::Broken(_) => None,
        };
        let current = matches!(state, State::Current(_)) && args.upgrade.is_none();
        let body = match (&previous, current) {
            (Some(previous), true) => previous.body.clone(),
            _ => match uv.resolve(&lock::Request::of(image), previous.as_ref().map(|l| l.body.as_str())) {
                Ok(body) => body,
                Err(lock::Failure::Unresolvable(reason)) => return Locked::Unresolvable(reason),
                Err(lock::Failure::Tool(reason)) => return Locked::Failed(reason),
            },
        };
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
        let file = lock::LockFile { input_hash: lock::Request::of(image).input_hash(), base_digest, body };
        if current && previous.as_ref() == Some(&file) {
            return Locked::Kept;
        }
        let path = lock::lock_path(&args.specs, image);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, file.render(&image.reference)));
        match written {
            Ok(()) => Locked::Written,
            Err(e) => Locked::Failed(format!("cannot write `{path}`: {e}")),
        }
    });
    let mut diags = Diagnostics::default();
    let (mut written, mut kept, mut failed) = (0, 0, 0);
    for (image, outcome) in selected.iter().zip(outcomes) {
        match outcome {
            Locked::Kept => kept += 1,
            Locked::Written => written += 1,
            Locked::Unresolvable(reason) => match unresolvable(image, &reason) {
                Some(diag) => diags.push(diag),
                None => {
                    eprintln!("error: {}: no set of Python packages satisfies the spec: {reason}", image.reference);
                    failed += 1;
                }
            },
            Locked::Failed(reason) => {
                eprintln!("error: {}: {reason}", image.reference);
                failed += 1;
            }
        }
    }
    let unresolved = diags.error_count();
    report(&sources, diags, &human);
    eprintln!(
        "{} images: {written} locks written, {kept} unchanged, {} failed in {:.1}s",
        selected.len(),
        failed + unresolved,
        started.elapsed().as_secs_f64()
    );
    Ok(if failed > 0 { 2 } else { u8::from(unresolved > 0) })
}

/// `dlspec::lock::unresolvable` on the lines that asked for the set: the framework and the extras.
fn unresolvable(image: &crate::model::Image, reason: &str) -> Option<crate::diag::Diag> {
    let origin = &image.origin;
    let primary = origin.framework.or_else(|| origin.extra_pip.first().copied()).or(origin.python)?;
    let why: Vec<&str> = reason.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut diag = crate::diag::Diag::error(
        "dlspec::lock::unresolvable",
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
fn lock_check(specs: &Utf8Path, images: &[crate::model::Image]) -> Result<u8, InputError> {
    use crate::lock::{self, State};
    let mut problems = Vec::new();
    let mut current = 0;
    let mut expected = std::collections::BTreeSet::new();
    for image in images {
        let path = lock::lock_path(specs, image);
        match lock::state(specs, image) {
            State::Current(l) => match lock::well_formed(&l.body) {
                Ok(()) => current += 1,
                Err(e) => problems.push(format!("`{path}`: {e}")),
            },
            State::Stale(_) => problems.push(format!(
                "`{path}` is stale: the Python requirements of `{}` changed since it was locked; run `dlspec lock --image {}`",
                image.reference, image.name
            )),
            State::Broken(e) => problems.push(e),
            State::Missing => {}
        }
        expected.insert(path);
    }
    let dir = specs.join(lock::LOCK_DIR);
    if dir.is_dir() {
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| InputError(format!("cannot read `{dir}`: {e}")))?;
            let Some(path) = Utf8Path::from_path(entry.path()) else { continue };
            if entry.file_type().is_file() && !expected.contains(path) {
                problems.push(format!("`{path}` locks no image of `{specs}`: remove it"));
            }
        }
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

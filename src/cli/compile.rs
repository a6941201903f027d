//! `dlspec compile`: every spec into `out/`, or, with `--check`, every file that is not as planned.

use std::io::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use super::args::CompileArgs;
use super::output::{Reported, count, print_error, report};
use crate::check::Checked;
use crate::diag::Format;
use crate::emit::{self, Change, FileReport, Mode, Summary};
use crate::error::Error;
use crate::render::{MemoryGuard, RENDER_MEMORY, Templates};

/// The fields of `compile --check --format json` after the diagnostics.
#[derive(Serialize)]
struct CheckedOut<'a> {
    out: &'a Utf8Path,
    /// `null` when the specs have errors.
    check: Option<CheckSummary>,
}

/// What `compile --check` found.
#[derive(Serialize)]
struct CheckSummary {
    up_to_date: bool,
    planned: usize,
    unchanged: usize,
    out_of_date: usize,
    orphaned: usize,
    leftovers: usize,
    manifest_problem: Option<String>,
    files: Vec<CheckedFile>,
}

/// One file of `compile --check --format json`.
#[derive(Serialize)]
struct CheckedFile {
    path: Utf8PathBuf,
    state: &'static str,
    diff: Option<String>,
}

impl CheckedFile {
    fn of(out: &Utf8Path, report: FileReport) -> Self {
        Self { path: out.join(&report.path), state: report.state.word(), diff: report.diff }
    }
}

/// The fields of `compile --format json` after the diagnostics.
#[derive(Serialize)]
struct WrittenOut<'a> {
    out: &'a Utf8Path,
    /// `null` when the specs have errors.
    written: Option<Written>,
}

/// What `compile` wrote.
#[derive(Serialize)]
struct Written {
    images: usize,
    written: usize,
    removed: usize,
    unchanged: usize,
    overwritten_edits: Vec<Utf8PathBuf>,
    kept_edits: Vec<Utf8PathBuf>,
    overwritten_foreign: Vec<Utf8PathBuf>,
    manifest_problem: Option<String>,
}

pub(super) fn run(args: &CompileArgs) -> Result<u8, Error> {
    let format = args.common.format;
    let command = if args.check { "compile --check" } else { "compile" };
    let sources = crate::source::discover(&args.common.specs)?;
    let crate::pipeline::Analysis { checked, diags, lock_messages } =
        crate::pipeline::analyze_catalog(&sources, Some(&args.common.specs));
    let reported = report(&sources, diags, args.common.deny_warnings, format, !args.no_diagnostics);
    if reported.failed() {
        if format == Format::Json && args.check {
            reported.document(command, CheckedOut { out: &args.out, check: None }).print();
        } else if format == Format::Json {
            reported.document(command, WrittenOut { out: &args.out, written: None }).print();
        }
        return Ok(1);
    }
    for message in lock_messages {
        eprintln!("warning: {message}");
    }
    // `--templates` wins over the catalog's `templates`, which is relative to the specs directory.
    let specs_dir = if args.common.specs.is_file() {
        args.common.specs.parent().map(Utf8Path::to_path_buf).unwrap_or_default()
    } else {
        args.common.specs.clone()
    };
    let templates_dir =
        args.templates.clone().or_else(|| checked.catalog.templates.as_ref().map(|t| specs_dir.join(t)));
    let templates = Templates::load(templates_dir.as_deref())?;
    let (out, templates_name) = (args.out.clone(), templates_dir.clone());
    let _guard = MemoryGuard::arm(RENDER_MEMORY, move |resident| {
        let error = Error::TooMuchMemory { used: resident, limit: RENDER_MEMORY, templates: templates_name, out };
        print_error(command, format, &error);
        std::process::exit(2);
    });
    if args.check {
        check_out(&checked, &templates, &args.out, &reported, format)
    } else {
        write_out(&checked, &templates, args, &reported)
    }
}

/// `compile --check`: lists every file that is not as planned, as it is found (the report of a
/// large catalog is never held whole for people); exit 1 when there is one.
fn check_out(
    checked: &Checked<'_>,
    templates: &Templates,
    out: &Utf8Path,
    reported: &Reported,
    format: Format,
) -> Result<u8, Error> {
    let json = format == Format::Json;
    let mut listed = Vec::new();
    let mut found = |report: FileReport| match report.state {
        // A kept file (no longer generated, edited by hand) is the user's now.
        Change::Kept => {}
        _ if json => listed.push(CheckedFile::of(out, report)),
        _ => print_check_line(out, &report),
    };
    let summary = crate::pipeline::sync_out(checked, templates, out, Mode::Check, &mut found)?;
    let clean = summary.is_clean();
    if !clean && summary.changed + summary.orphaned + summary.leftovers == 0 {
        // Every file as planned, but not the record of them.
        found(FileReport { path: emit::MANIFEST.into(), state: Change::Stale, diff: None });
    }
    // Orphans and leftovers are not planned files, so they are counted on their own; with
    // neither, the manifest is the file out of date.
    let planned =
        if summary.orphaned + summary.leftovers == 0 && !clean { summary.changed.max(1) } else { summary.changed };
    if json {
        let check = CheckSummary {
            up_to_date: clean,
            planned: summary.files,
            unchanged: summary.unchanged,
            out_of_date: planned,
            orphaned: summary.orphaned,
            leftovers: summary.leftovers,
            manifest_problem: summary.manifest_problem,
            files: listed,
        };
        let mut document = reported.document("compile --check", CheckedOut { out, check: Some(check) });
        document.ok = clean;
        document.print();
        return Ok(u8::from(!clean));
    }
    if let Some(problem) = &summary.manifest_problem {
        eprintln!("warning: {problem}");
    }
    if clean {
        eprintln!("`{out}` is up to date ({})", count(summary.files, "file"));
        return Ok(0);
    }
    eprintln!("{} in `{out}`", out_of_date_line(&summary, planned));
    eprintln!("hint: run `dlspec compile` and commit `{out}`");
    Ok(1)
}

/// `3 of 120 files out of date, 1 orphaned`.
fn out_of_date_line(summary: &Summary, planned: usize) -> String {
    let mut line = format!("{planned} of {} out of date", count(summary.files, "file"));
    if summary.orphaned > 0 {
        line.push_str(&format!(", {} orphaned", summary.orphaned));
    }
    if summary.leftovers > 0 {
        line.push_str(&format!(", {} left by an interrupted compile", summary.leftovers));
    }
    line
}

/// `compile`: brings `out/` in line with the specs and says what it did.
fn write_out(
    checked: &Checked<'_>,
    templates: &Templates,
    args: &CompileArgs,
    reported: &Reported,
) -> Result<u8, Error> {
    let out = &args.out;
    let (mut overwritten, mut kept, mut foreign) = (Vec::new(), Vec::new(), Vec::new());
    let mode = Mode::Write { force: args.force };
    let summary = crate::pipeline::sync_out(checked, templates, out, mode, &mut |report| {
        let path = out.join(&report.path);
        match report.state {
            Change::Edited => overwritten.push(path),
            Change::Kept => kept.push(path),
            Change::Foreign => foreign.push(path),
            _ => {}
        }
    })?;
    let images = checked.entries.len();
    if args.common.format == Format::Json {
        let written = Written {
            images,
            written: summary.written,
            removed: summary.orphaned,
            unchanged: summary.unchanged,
            overwritten_edits: overwritten,
            kept_edits: kept,
            overwritten_foreign: foreign,
            manifest_problem: summary.manifest_problem,
        };
        reported.document("compile", WrittenOut { out, written: Some(written) }).print();
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
        count(images, "image"),
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

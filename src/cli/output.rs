//! What the commands print: the diagnostics and count lines on stderr for people, or one JSON
//! document on stdout, serialized from the commands' own `serde` types.

use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::diag::{Diagnostics, Format, Renderer, Severity};
use crate::error::Error;
use crate::source::SourceMap;

/// The document of a command that failed with exit code 2.
#[derive(Serialize)]
struct Failure<'a> {
    command: &'a str,
    ok: bool,
    error: String,
}

/// Reports the error that ends a command (exit code 2).
pub(super) fn print_error(command: &str, format: Format, error: &Error) {
    match format {
        Format::Human => eprintln!("error: {error}"),
        Format::Json => print_json(&Failure { command, ok: false, error: error.to_string() }),
    }
}

/// Prints the one JSON document of a run, on one line.
pub(super) fn print_json(document: &impl Serialize) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // Write errors (a closed pipe, say) are ignored: the exit code still tells the outcome.
    let _ = serde_json::to_writer(&mut out, document).map_err(std::io::Error::from).and_then(|()| {
        out.write_all(b"\n")?;
        out.flush()
    });
}

/// `1 file`, `2 files`.
pub(super) fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// The diagnostics of a run: printed on stderr for people, kept for the JSON document.
pub(super) struct Reported {
    pub(super) errors: usize,
    pub(super) warnings: usize,
    /// The diagnostics' JSON objects (`--format json` only).
    json: Vec<Box<RawValue>>,
}

impl Reported {
    pub(super) fn failed(&self) -> bool {
        self.errors > 0
    }

    /// The JSON document of `command` with these diagnostics and the command's own fields.
    pub(super) fn document<'a, B: Serialize>(&'a self, command: &'a str, body: B) -> Document<'a, B> {
        Document {
            command,
            ok: self.errors == 0,
            errors: self.errors,
            warnings: self.warnings,
            diagnostics: &self.json,
            body,
        }
    }
}

/// A JSON document with diagnostics: the fields every such document has, then the command's own.
#[derive(Serialize)]
pub(super) struct Document<'a, B> {
    command: &'a str,
    /// Exactly when the exit code is 0.
    pub(super) ok: bool,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Box<RawValue>],
    #[serde(flatten)]
    body: B,
}

/// The body of a document that has only the fields every document with diagnostics has.
#[derive(Serialize)]
pub(super) struct NoFields {}

impl<B: Serialize> Document<'_, B> {
    /// Prints the document.
    pub(super) fn print(&self) {
        print_json(self);
    }
}

/// The diagnostics of `diags` that are errors: warnings are `dlspec check`'s business in a
/// command whose output is something else (a list, locks).
pub(super) fn errors_only(diags: Diagnostics) -> Diagnostics {
    let mut errors = Diagnostics::default();
    for diag in diags.into_vec().into_iter().filter(|d| d.severity == Severity::Error) {
        errors.push(diag);
    }
    errors
}

/// Prints the diagnostics (unless `!show`) and the count line (human), or keeps them (json).
pub(super) fn report(
    sources: &SourceMap,
    mut diags: Diagnostics,
    deny_warnings: bool,
    format: Format,
    show: bool,
) -> Reported {
    if deny_warnings {
        diags.deny_warnings();
    }
    let renderer = Renderer::new(sources, color());
    let (errors, warnings) = (diags.error_count(), diags.warning_count());
    let sorted = diags.sorted(sources);
    if format == Format::Json {
        return Reported { errors, warnings, json: sorted.iter().map(|d| renderer.json_raw(d)).collect() };
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

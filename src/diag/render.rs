//! Rendering diagnostics: miette's graphical report for people, JSON lines for tools.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;

use super::{Code, Diag, Severity};
use crate::source::SourceMap;

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Text for people: diagnostics with their source lines and labels on stderr.
    #[default]
    Human,
    /// One JSON document on stdout (its shape: docs/spec-reference.md, "JSON output").
    Json,
}

/// Bytes into a line past which a label is not drawn: miette pads to a label with a format width,
/// which panics past 65,535. Such a diagnostic names its place in the message instead.
const MAX_DRAWN_COLUMN: usize = 10_000;

/// Renders diagnostics against their sources.
pub struct Renderer<'a> {
    sources: &'a SourceMap,
    handler: GraphicalReportHandler,
}

impl<'a> Renderer<'a> {
    /// A renderer; `color` picks the coloured unicode theme.
    #[must_use]
    pub fn new(sources: &'a SourceMap, color: bool) -> Self {
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).without_syntax_highlighting().with_width(100);
        Self { sources, handler }
    }

    /// The graphical report of one diagnostic.
    #[must_use]
    pub fn human(&self, diag: &Diag) -> String {
        let mut report = self.report(diag);
        if self.too_wide(diag) {
            let file = self.sources.get(diag.primary.span.file);
            let (line, column) = file.line_col(diag.primary.span.start());
            report.message = format!("{} (at {}:{line}:{column}: {})", report.message, file.path, diag.primary.text);
            report.labels.clear();
            report.related.clear();
        }
        let mut out = String::new();
        // Rendering into a String cannot fail.
        let _ = self.handler.render_report(&mut out, &report);
        out
    }

    /// Whether a label lies too far right in its line for miette to draw it.
    fn too_wide(&self, diag: &Diag) -> bool {
        std::iter::once(&diag.primary).chain(&diag.secondary).any(|label| {
            let file = self.sources.get(label.span.file);
            let starts = file.line_starts();
            [label.span.start(), label.span.end()].iter().any(|at| at - starts[file.line_of(*at)] > MAX_DRAWN_COLUMN)
        })
    }

    /// The JSON object of one diagnostic, as one line of text.
    #[must_use]
    pub fn json(&self, diag: &Diag) -> String {
        serde_json::to_string(&self.json_object(diag)).expect("diagnostics serialize")
    }

    /// The JSON object of one diagnostic, as compact text a JSON document embeds as it is (300
    /// bytes, where a `serde_json::Value` of it takes 2 KB: a catalog of 100,000 errors would
    /// take hundreds of MB).
    #[must_use]
    pub fn json_raw(&self, diag: &Diag) -> Box<serde_json::value::RawValue> {
        serde_json::value::to_raw_value(&self.json_object(diag)).expect("diagnostics serialize")
    }

    fn json_object<'d>(&'d self, diag: &'d Diag) -> JsonDiag<'d> {
        let file = self.sources.get(diag.primary.span.file);
        let (line, column) = file.line_col(diag.primary.span.start());
        let (end_line, end_column) = file.line_col(diag.primary.span.end());
        let labels = std::iter::once((&diag.primary, true))
            .chain(diag.secondary.iter().map(|l| (l, false)))
            .map(|(label, primary)| {
                let f = self.sources.get(label.span.file);
                let (line, column) = f.line_col(label.span.start());
                let (end_line, end_column) = f.line_col(label.span.end());
                JsonLabel { file: f.path.as_str(), line, column, end_line, end_column, text: &label.text, primary }
            })
            .collect();
        JsonDiag {
            code: diag.code,
            severity: diag.severity,
            message: &diag.message,
            file: file.path.as_str(),
            line,
            column,
            end_line,
            end_column,
            labels,
            help: diag.help.as_deref(),
        }
    }

    fn report(&self, diag: &Diag) -> Report {
        let file = diag.primary.span.file;
        let source = |id| {
            let f = self.sources.get(id);
            let indexed = IndexedSource { text: Arc::clone(&f.text), line_starts: f.line_starts() };
            NamedSource::new(f.path.as_str(), indexed).with_language("kdl")
        };
        let mut labels =
            vec![LabeledSpan::new_primary_with_span(Some(diag.primary.text.clone()), diag.primary.span.to_miette())];
        let mut related = Vec::new();
        for label in &diag.secondary {
            if label.span.file == file {
                labels.push(LabeledSpan::new_with_span(Some(label.text.clone()), label.span.to_miette()));
            } else {
                related.push(Report {
                    message: label.text.clone(),
                    code: None,
                    severity: miette::Severity::Advice,
                    help: None,
                    source: source(label.span.file),
                    labels: vec![LabeledSpan::new_primary_with_span(Some(label.text.clone()), label.span.to_miette())],
                    related: Vec::new(),
                });
            }
        }
        Report {
            message: diag.message.clone(),
            code: Some(diag.code.as_str()),
            severity: match diag.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
                Severity::Note => miette::Severity::Advice,
            },
            help: diag.help.clone(),
            source: source(file),
            labels,
            related,
        }
    }
}

#[derive(Serialize)]
struct JsonDiag<'a> {
    code: Code,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    text: &'a str,
    primary: bool,
}

/// A file's text with its line index. miette finds a span's lines by scanning the text from the
/// top; this hands it only the lines around the span, so that rendering every diagnostic of a large
/// file is not quadratic.
#[derive(Debug)]
struct IndexedSource {
    text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl miette::SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let line_of = |offset: usize| self.line_starts.partition_point(|start| *start <= offset) - 1;
        let end = (span.offset() + span.len()).saturating_sub(1).max(span.offset());
        // One line of margin each side: miette counts its context lines within the window itself.
        let first = line_of(span.offset()).saturating_sub(context_lines_before + 1);
        let last = line_of(end) + context_lines_after + 1;
        let window_start = self.line_starts[first];
        let window_end = self.line_starts.get(last + 1).copied().unwrap_or(self.text.len());
        let window = &self.text[window_start..window_end];
        let shifted = miette::SourceSpan::new((span.offset() - window_start).into(), span.len());
        let inner = window.read_span(&shifted, context_lines_before, context_lines_after)?;
        let data = inner.data();
        Ok(Box::new(miette::MietteSpanContents::new(
            data,
            miette::SourceSpan::new((inner.span().offset() + window_start).into(), inner.span().len()),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

/// A diagnostic in miette's terms, with its source attached.
#[derive(Debug)]
struct Report {
    message: String,
    code: Option<&'static str>,
    severity: miette::Severity,
    help: Option<String>,
    source: NamedSource<IndexedSource>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() { None } else { Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic))) }
    }
}

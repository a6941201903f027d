//! Diagnostics: one type for every problem any stage finds, with spans back into the specs.

mod code;
pub mod explain;
mod render;

pub use code::{Code, UnknownCode};
pub use render::{Format, Renderer};

use crate::source::{SourceMap, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec would build a broken image or is not understood: nothing is written.
    Error,
    /// The spec works but is risky or unusual; `--deny-warnings` turns it into an error.
    Warning,
    /// The spec works as written; something worth knowing about the image it builds (a leaner
    /// choice, a decision the compiler made). Never counted as a warning, `--deny-warnings` keeps it.
    Note,
}

/// A labelled place in a spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// A short noun phrase: "unknown node", "first defined here".
    pub text: String,
}

/// One problem, with a stable code, a primary label, optional secondary labels and a help line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diag {
    /// Stable code: `dlspec::compat::torchvision`.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong: lowercase, no trailing period, user values in backticks.
    pub message: String,
    /// The offending token.
    pub primary: Label,
    /// Other places that matter.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diag {
    /// An error at `span`.
    #[must_use]
    pub fn error(code: Code, span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: Label { span, text: label.into() },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning at `span`.
    #[must_use]
    pub fn warning(code: Code, span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, span, message, label) }
    }

    /// A note at `span`.
    #[must_use]
    pub fn note(code: Code, span: Span, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self { severity: Severity::Note, ..Self::error(code, span, message, label) }
    }

    /// Adds the help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label.
    #[must_use]
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.secondary.push(Label { span, text: text.into() });
        self
    }
}

/// The diagnostics of a run: collected by every stage, never bailing at the first.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diag>,
}

impl Diagnostics {
    /// Records a diagnostic.
    pub fn push(&mut self, diag: Diag) {
        self.items.push(diag);
    }

    /// The diagnostics, in the order they were recorded.
    pub fn iter(&self) -> impl Iterator<Item = &Diag> {
        self.items.iter()
    }

    /// Whether any error was recorded.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    #[must_use]
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Number of warnings.
    #[must_use]
    pub fn warning_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Warning).count()
    }

    /// Turns every warning into an error (`--deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for d in self.items.iter_mut().filter(|d| d.severity == Severity::Warning) {
            d.severity = Severity::Error;
        }
    }

    /// The diagnostics sorted by file, position and code, without exact duplicates (a matrix repeats
    /// the same problem for every combination that shares it).
    #[must_use]
    pub fn sorted(&self, sources: &SourceMap) -> Vec<Diag> {
        let mut items = self.items.clone();
        items.sort_by(|a, b| {
            let key = |d: &Diag| {
                (
                    sources.get(d.primary.span.file).relative.clone(),
                    d.primary.span.start,
                    d.primary.span.end,
                    d.code.as_str(),
                    d.message.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        items.dedup();
        items
    }

    /// Where the errors recorded so far point.
    pub fn error_spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.items.iter().filter(|d| d.severity == Severity::Error).map(|d| d.primary.span)
    }

    /// Keeps only the diagnostics for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Diag) -> bool) {
        self.items.retain(keep);
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The diagnostics in the order recorded.
    #[must_use]
    pub fn into_vec(self) -> Vec<Diag> {
        self.items
    }

    /// Moves every diagnostic of `other` into `self`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
#[must_use]
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4) && *distance < c.len().max(name.len()))
        .min()
        .map(|(_, c)| c)
}

/// "did you mean `x`?" for the closest candidate, else a list of what is accepted.
#[must_use]
pub fn did_you_mean(name: &str, candidates: &[&str], what: &str) -> String {
    match suggest(name, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("{what}: {}", candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")),
    }
}

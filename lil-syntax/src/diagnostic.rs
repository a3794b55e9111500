//! Diagnostics shared by every stage: a code, a message, spans, notes, and
//! rendering with carets through `codespan-reporting`.
//!
//! Each stage has its own typed error enum; each converts into a
//! [`Diagnostic`] for display. Codes are stable (`E0xxx`) and listed in
//! `docs/LANGUAGE.md`.

use crate::span::{Span, line_col};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use std::fmt;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Legal but suspicious.
    Warning,
    /// The stub is rejected.
    Error,
}

/// A secondary span with its own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanLabel {
    /// Where.
    pub span: Span,
    /// What about it.
    pub message: String,
}

/// One finding about a stub, ready to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code, e.g. `E0003`.
    pub code: &'static str,
    /// One-line message.
    pub message: String,
    /// The primary location.
    pub span: Span,
    /// What to say at the primary location (may be empty).
    pub label: String,
    /// Other relevant locations.
    pub secondary: Vec<SpanLabel>,
    /// Free-form notes and help lines.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a code, message and span.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A warning with a code, message and span.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Set the text shown at the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = label.into();
        self
    }

    /// Add a secondary span.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(SpanLabel {
            span,
            message: message.into(),
        });
        self
    }

    /// Add a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render with carets under the source, as `rustc` does. `name` is the
    /// file name shown in the header.
    pub fn render(&self, name: &str, source: &str) -> String {
        render_all(std::slice::from_ref(self), name, source)
    }

    /// `file:line:col: error[E0001]: message`, one line, for logs and tools.
    pub fn one_line(&self, name: &str, source: &str) -> String {
        let (line, col) = line_col(source, self.span.start);
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!(
            "{name}:{line}:{col}: {sev}[{}]: {}",
            self.code, self.message
        )
    }

    fn to_codespan(&self, source: &str) -> cs::Diagnostic<()> {
        let clamp = |s: Span| {
            let floor = |mut i: usize| {
                i = i.min(source.len());
                while !source.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let start = floor(s.start as usize);
            let end = floor((s.end as usize).max(start));
            start..end
        };
        let base = match self.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let mut labels = vec![cs::Label::primary((), clamp(self.span)).with_message(&self.label)];
        labels.extend(
            self.secondary
                .iter()
                .map(|l| cs::Label::secondary((), clamp(l.span)).with_message(&l.message)),
        );
        base.with_code(self.code)
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(self.notes.clone())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// Render several diagnostics against one source text.
pub fn render_all(diagnostics: &[Diagnostic], name: &str, source: &str) -> String {
    let file = SimpleFile::new(name, source);
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        let diag = d.to_codespan(source);
        // Spans are clamped to the text in `to_codespan`, so rendering into a
        // String has nothing left to fail on; fall back to the one-line form.
        if term::emit_to_string(&mut out, &config, &file, &diag).is_err() {
            out.push_str(&d.one_line(name, source));
            out.push('\n');
        }
    }
    out
}

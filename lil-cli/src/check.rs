//! `lil check FILE...`: parse and check files, print diagnostics.
//!
//! Every file is checked even after one fails; the exit status is the worst
//! of them (a missing file, 2, outranks an invalid one, 1). The JSON format
//! prints one object per diagnostic on stdout, warnings included; read
//! errors are still messages on stderr.

use std::path::PathBuf;

use lil::syntax::diagnostic::render_all;
use lil::syntax::span::line_col;
use lil::syntax::{Diagnostic, Severity};

use crate::source::{DIRECTIVE_HINT, Exit, SourceFile};

/// The long help of `lil check`.
pub const LONG_ABOUT: &str = "\
Parse and check LIL files. Prints every error and warning with its code (E0xxx, \
W0xxx) and position; exits 0 when every file is valid (warnings allowed), 1 when \
any file is invalid, 2 when a file cannot be read.";

/// Examples shown at the end of `lil check --help`.
pub const EXAMPLES: &str = "\
Examples:
  lil check add.lil                 silent and exit 0 when add.lil is valid
  lil check stubs/*.lil             check many files; exit 1 if any is invalid
  lil check --format json a.lil     one JSON object per diagnostic, for editors and CI

A JSON diagnostic looks like:
  {\"file\":\"a.lil\",\"line\":3,\"column\":1,\"end_line\":3,\"end_column\":8,
   \"severity\":\"error\",\"code\":\"E0222\",\"message\":\"...\"}
Lines and columns count from 1; the end is exclusive (just past the span).";

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Rendered with carets under the source, on stderr.
    Human,
    /// One JSON object per line on stdout.
    Json,
}

/// Arguments of `lil check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The LIL files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Run `lil check`.
pub fn main(args: &Args) -> Exit {
    let mut exit = Exit::Success;
    for path in &args.files {
        let file = match SourceFile::read(path) {
            Ok(file) => file,
            Err(e) => {
                exit = exit.max(e);
                continue;
            }
        };
        let (diagnostics, valid) = diagnose(&file);
        if !valid {
            exit = exit.max(Exit::Failure);
        }
        match args.format {
            Format::Human => {
                if !diagnostics.is_empty() {
                    eprint!("{}", render_all(&diagnostics, &file.name, &file.text));
                }
                if diagnostics
                    .iter()
                    .any(|d| matches!(d.code, "E0101" | "E0102"))
                {
                    eprintln!("{DIRECTIVE_HINT}");
                }
            }
            Format::Json => {
                for d in &diagnostics {
                    println!("{}", json(&file, d));
                }
            }
        }
    }
    exit
}

/// The diagnostics of one file (errors and warnings, in source order) and
/// whether it is valid.
fn diagnose(file: &SourceFile) -> (Vec<Diagnostic>, bool) {
    match file.check() {
        Ok(checked) => (
            checked
                .warnings()
                .iter()
                .map(|w| w.to_diagnostic())
                .collect(),
            true,
        ),
        Err(e) => (e.diagnostics(), false),
    }
}

/// One diagnostic as a JSON object, keys in a fixed order (written by
/// hand; strings escaped by serde_json).
fn json(file: &SourceFile, d: &Diagnostic) -> String {
    let (line, column) = line_col(&file.text, d.span.start);
    let (end_line, end_column) = line_col(&file.text, d.span.end.max(d.span.start));
    let string = |s: &str| serde_json::Value::from(s).to_string();
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!(
        "{{\"file\":{},\"line\":{line},\"column\":{column},\"end_line\":{end_line},\
         \"end_column\":{end_column},\"severity\":\"{severity}\",\"code\":{},\"message\":{}}}",
        string(&file.name),
        string(d.code),
        string(&d.message),
    )
}

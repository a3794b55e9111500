//! [`Error`]: one error type for the whole pipeline, text to installed code.
//!
//! Each stage keeps its own typed errors (syntax errors, check diagnostics,
//! codegen errors, code-cache errors); this enum only wraps them, so a host
//! can use `?` across the pipeline and still match on the stage that
//! failed. Rendering delegates to each stage's own caret renderer.

use lil_codegen::{CacheError, CodegenError, Target};
use lil_syntax::{Diagnostic, SyntaxErrors};

/// Why a stub could not be turned into installed machine code.
///
/// ```
/// let err = lil::check_text("entry 0:platform::g4; r = 5; l0 = r; ret;").unwrap_err();
/// assert_eq!(err.codes(), ["E0222"]);
/// assert!(err.render("stub.lil", "entry 0:platform::g4; r = 5; l0 = r; ret;").contains("E0222"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not shaped like LIL (codes `E00xx`).
    #[error("syntax error: {0}")]
    Syntax(#[from] SyntaxErrors),
    /// The stub parsed but breaks a validity rule (codes `E02xx`; the
    /// diagnostics may include warnings `W02xx` alongside the errors).
    #[error("invalid stub: {0}")]
    Check(#[from] lil_check::Diagnostics),
    /// The backend could not generate code for a checked stub (codes `E04xx`).
    #[error("cannot generate {target} code: {source}")]
    Codegen {
        /// The target code was generated for.
        target: Target,
        /// What the backend reported.
        #[source]
        source: CodegenError,
    },
    /// Installing the code into the code cache failed (code `E0501`).
    #[error("cannot install the code: {0}")]
    Cache(#[from] CacheError),
    /// Writing a file for a debugger or profiler failed (code `E0503`).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A template could not be made or instantiated (code `E0505`).
    #[error("{0}")]
    Template(#[from] crate::template::TemplateError),
    /// Debug information for a stub could not be encoded (code `E0504`).
    #[error("{0}")]
    DebugInfo(String),
    /// The machine this runs on is neither x86-64 nor AArch64, so there is
    /// no host target (code `E0502`). Use [`crate::compile_for`] to
    /// cross-compile.
    #[error(
        "this machine ({arch}) is not a LIL-rs target: only x86-64 and AArch64 are; \
         cross-compile with an explicit target instead"
    )]
    UnsupportedHost {
        /// `std::env::consts::ARCH` of this machine.
        arch: &'static str,
    },
}

impl Error {
    /// The stable codes of every diagnostic this error carries, in source
    /// order (syntax and check errors may carry several; check diagnostics
    /// include their warnings).
    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Error::Syntax(errors) => errors.errors().iter().map(|e| e.code()).collect(),
            Error::Check(diagnostics) => diagnostics.codes(),
            Error::Codegen { source, .. } => vec![source.code()],
            Error::Cache(_) => vec!["E0501"],
            Error::UnsupportedHost { .. } => vec!["E0502"],
            Error::Io { .. } => vec!["E0503"],
            Error::DebugInfo(_) => vec!["E0504"],
            Error::Template(_) => vec!["E0505"],
        }
    }

    /// The diagnostics of a syntax or check error, with spans into the
    /// source text; empty for the later stages, whose errors have no span.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Syntax(errors) => errors.diagnostics(),
            Error::Check(diagnostics) => diagnostics.diagnostics(),
            Error::Codegen { .. }
            | Error::Cache(_)
            | Error::UnsupportedHost { .. }
            | Error::Io { .. }
            | Error::DebugInfo(_)
            | Error::Template(_) => Vec::new(),
        }
    }

    /// Render for a human: syntax and check errors with carets under
    /// `source` (the text the stub was parsed from, shown as file `name`),
    /// later stages as one `error[E0xxx]: …` line naming `name`.
    pub fn render(&self, name: &str, source: &str) -> String {
        match self {
            Error::Syntax(errors) => errors.render(name, source),
            Error::Check(diagnostics) => diagnostics.render(name, source),
            Error::Codegen { .. }
            | Error::Cache(_)
            | Error::UnsupportedHost { .. }
            | Error::Io { .. }
            | Error::DebugInfo(_)
            | Error::Template(_) => {
                let codes = self.codes();
                let code = codes.first().copied().unwrap_or("E0499");
                format!("error[{code}]: {self}\n  --> {name}\n")
            }
        }
    }
}

//! What every subcommand shares: exit codes, reading a source file,
//! parsing and checking it, and printing diagnostics.
//!
//! Invariant: every failure is printed here or by the subcommand before an
//! [`Exit`] other than `Success` is returned; `main` only converts it.

use std::path::Path;

use lil::syntax::Stub;
use lil::{CheckedStub, Error};

/// The exit status of a subcommand, the same scheme for all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything worked (and every file was valid).
    Success,
    /// A stub is invalid, cannot be compiled, or failed when run.
    Failure,
    /// The command was used wrongly: bad flags or arguments, a file that
    /// cannot be read, a stub this command cannot run.
    Usage,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        })
    }
}

/// Print `error: {message}` on stderr and return `exit`.
pub fn fail(exit: Exit, message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    exit
}

/// A LIL source file as read from disk.
pub struct SourceFile {
    /// The name shown in diagnostics: the path as given.
    pub name: String,
    /// The bytes, as read.
    bytes: Vec<u8>,
    /// The text; invalid UTF-8 replaced (parsing reports the first bad byte).
    pub text: String,
}

impl SourceFile {
    /// Read `path`; on failure print why and return [`Exit::Usage`].
    pub fn read(path: &Path) -> Result<SourceFile, Exit> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Ok(SourceFile { name, bytes, text })
            }
            Err(e) => Err(fail(
                Exit::Usage,
                format!("cannot read `{name}`: {e}; check the path and permissions"),
            )),
        }
    }

    /// Parse the file (no runtime constants: `%0i` and friends are errors).
    pub fn parse(&self) -> Result<Stub, Error> {
        Ok(lil::syntax::parse_bytes(&self.bytes)?)
    }

    /// Parse and check the file.
    pub fn check(&self) -> Result<CheckedStub, Error> {
        Ok(lil::check::check_owned(self.parse()?)?)
    }

    /// Parse and check; print errors (and a hint about `%` directives when
    /// they are the problem) and return [`Exit::Failure`]. Warnings of a
    /// valid stub are printed too.
    pub fn check_or_report(&self) -> Result<CheckedStub, Exit> {
        match self.check() {
            Ok(checked) => {
                self.print_warnings(&checked);
                Ok(checked)
            }
            Err(e) => Err(self.report(&e)),
        }
    }

    /// Print an error of any stage with carets; returns [`Exit::Failure`].
    pub fn report(&self, error: &Error) -> Exit {
        eprint!("{}", error.render(&self.name, &self.text));
        if error
            .codes()
            .iter()
            .any(|c| matches!(*c, "E0101" | "E0102"))
        {
            eprintln!("{DIRECTIVE_HINT}");
        }
        Exit::Failure
    }

    /// Print the warnings of a valid stub with carets.
    pub fn print_warnings(&self, checked: &CheckedStub) {
        let warnings: Vec<_> = checked
            .warnings()
            .iter()
            .map(|w| w.to_diagnostic())
            .collect();
        if !warnings.is_empty() {
            eprint!(
                "{}",
                lil::syntax::diagnostic::render_all(&warnings, &self.name, &self.text)
            );
        }
    }
}

/// Why `%0i`-style directives fail in files, and what to do.
pub const DIRECTIVE_HINT: &str = "\
help: `%Ni`, `%Nm` and `%Nj` are runtime constants a host VM supplies when it \
parses the stub (lil::syntax::parse_with); the lil command has no values for \
them. Replace them with literals to check, format, disassemble or run the file.";

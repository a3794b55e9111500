//! Syntax errors: every way text can fail to be a LIL stub.
//!
//! Each variant has a stable code (`E00xx` for syntax, `E01xx` for runtime
//! constants) and a message written for the person who wrote the stub.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use std::fmt;

/// What went wrong while parsing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxErrorKind {
    /// The text ended in the middle of a statement.
    #[error("unexpected end of input: expected {expected}")]
    UnexpectedEnd {
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// A token other than the one required.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the parser was looking for.
        expected: &'static str,
        /// What it found, quoted.
        found: String,
    },
    /// A statement that starts with an unknown word.
    #[error("unknown instruction `{0}`")]
    UnknownInstruction(String),
    /// Not one of `g1 g2 g4 g8 f4 f8 ref pint`.
    #[error("unknown type `{0}`; the types are g1, g2, g4, g8, f4, f8, ref and pint")]
    UnknownType(String),
    /// Not one of the calling conventions.
    #[error(
        "unknown calling convention `{0}`; the conventions are platform, managed, rth, jni, stdcall and handler"
    )]
    UnknownCallConv(String),
    /// A variable index or count larger than [`crate::MAX_INDEX`].
    #[error("{what} `{text}` is larger than the maximum, {max}")]
    IndexTooLarge {
        /// "variable index" or "count".
        what: &'static str,
        /// The digits as written.
        text: String,
        /// The limit.
        max: u64,
    },
    /// An integer literal outside `-2^63 ..= 2^64-1`.
    #[error("immediate `{0}` does not fit in 64 bits")]
    ImmediateOutOfRange(String),
    /// `0x` without digits, a digit run that runs into letters, ...
    #[error("malformed number `{0}`")]
    MalformedNumber(String),
    /// The byte API was given text that is not UTF-8.
    #[error("the input is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The text is empty or does not start with `entry`.
    #[error("a stub must start with an `entry` declaration")]
    MissingEntry,
    /// A second `entry`.
    #[error("`entry` may appear only once, at the start of a stub")]
    EntryNotFirst,
    /// `arbitrary` outside the entry declaration.
    #[error("`arbitrary` is only allowed in the `entry` declaration")]
    ArbitraryNotAllowed,
    /// A `'` string without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// A character that cannot start any token here.
    #[error("unexpected character `{0}`")]
    UnexpectedCharacter(char),
    /// `[l0 - 4*l1 ...]` or `[l0 - l1 ...]`.
    #[error("an address cannot subtract a variable")]
    SubtractedVariable,
    /// More than one base and one index in an address.
    #[error("an address has at most one base and one scaled index")]
    TooManyAddressTerms,
    /// `sx`/`zx` on something other than `ld`, or `acquire`/`release` misplaced.
    #[error("unknown suffix `{0}`; `ld` accepts `sx` or `zx`")]
    UnknownSuffix(String),
    /// `%5i` when only 3 arguments were given, or any directive without arguments.
    #[error(
        "directive `{directive}` refers to argument {index}, but {given} argument(s) were given"
    )]
    MissingArgument {
        /// The directive as written.
        directive: String,
        /// The argument index it names.
        index: usize,
        /// How many arguments were passed.
        given: usize,
    },
    /// `%0i` given a method, or `%0m` given an integer.
    #[error("directive `{directive}` needs {expected}, but argument {index} is {found}")]
    WrongArgumentKind {
        /// The directive as written.
        directive: String,
        /// Its argument index.
        index: usize,
        /// What the directive needs.
        expected: &'static str,
        /// What the argument was.
        found: &'static str,
    },
    /// An argument no directive refers to.
    #[error("argument {index} is not used by any directive")]
    UnusedArgument {
        /// The argument's index.
        index: usize,
    },
    /// `%x`, `%0k`, `%g` where an immediate is needed, ...
    #[error("directive `{directive}` is not valid here: {reason}")]
    BadDirective {
        /// The directive as written.
        directive: String,
        /// Why not.
        reason: &'static str,
    },
    /// A runtime value that cannot be used where its directive stands.
    #[error("directive `{directive}` stands for {what}, but its value {value} is out of range")]
    ArgumentOutOfRange {
        /// The directive as written.
        directive: String,
        /// What the value is used as.
        what: &'static str,
        /// The value.
        value: i128,
    },
    /// `{name}` outside `lil_parse!`.
    #[error("`{{…}}` holes are filled by `lil_parse!`; with the text API use `%Ni` directives")]
    HoleNotAllowed,
    /// Too many errors; parsing stopped.
    #[error("too many errors; stopping")]
    TooManyErrors,
}

impl SyntaxErrorKind {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        use SyntaxErrorKind::*;
        match self {
            UnexpectedEnd { .. } => "E0001",
            Expected { .. } => "E0002",
            UnknownInstruction(_) => "E0003",
            UnknownType(_) => "E0004",
            UnknownCallConv(_) => "E0005",
            IndexTooLarge { .. } => "E0006",
            ImmediateOutOfRange(_) => "E0007",
            MalformedNumber(_) => "E0008",
            InvalidUtf8 { .. } => "E0009",
            MissingEntry => "E0010",
            EntryNotFirst => "E0011",
            ArbitraryNotAllowed => "E0012",
            UnterminatedString => "E0013",
            UnexpectedCharacter(_) => "E0014",
            SubtractedVariable => "E0015",
            TooManyAddressTerms => "E0016",
            UnknownSuffix(_) => "E0017",
            TooManyErrors => "E0018",
            MissingArgument { .. } => "E0101",
            WrongArgumentKind { .. } => "E0102",
            UnusedArgument { .. } => "E0103",
            BadDirective { .. } => "E0104",
            ArgumentOutOfRange { .. } => "E0105",
            HoleNotAllowed => "E0106",
        }
    }
}

/// One syntax error at a place in the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct SyntaxError {
    /// What went wrong.
    pub kind: SyntaxErrorKind,
    /// Where.
    pub span: Span,
}

impl SyntaxError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// As a renderable diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::error(self.code(), self.kind.to_string(), self.span);
        match &self.kind {
            SyntaxErrorKind::UnknownInstruction(_) => d.with_note(
                "instructions: locals std_places alloc ld st inc cas j jc out in2out call \
                 call.noret tailcall ret push_m2n pop_m2n m2n_save_all handles print, \
                 assignments `v = ...`, labels `:name;`",
            ),
            SyntaxErrorKind::SubtractedVariable => {
                d.with_note("write the index with `+`; negate it first if needed")
            }
            _ => d,
        }
    }
}

/// All syntax errors found in one text (at least one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxErrors(pub Vec<SyntaxError>);

impl SyntaxErrors {
    /// The errors, in source order.
    pub fn errors(&self) -> &[SyntaxError] {
        &self.0
    }

    /// The first error.
    pub fn first(&self) -> Option<&SyntaxError> {
        self.0.first()
    }

    /// As renderable diagnostics.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.0.iter().map(SyntaxError::to_diagnostic).collect()
    }

    /// Render every error with carets under `source`.
    pub fn render(&self, name: &str, source: &str) -> String {
        crate::diagnostic::render_all(&self.diagnostics(), name, source)
    }
}

impl fmt::Display for SyntaxErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "[{}] {} at {:?}", e.code(), e, e.span)?;
        }
        Ok(())
    }
}

impl std::error::Error for SyntaxErrors {}

impl From<SyntaxError> for SyntaxErrors {
    fn from(e: SyntaxError) -> SyntaxErrors {
        SyntaxErrors(vec![e])
    }
}

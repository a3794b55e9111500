//! The LIL front end: text → [`Stub`].
//!
//! LIL is the architecture-neutral stub language of the VM'04 paper
//! (Glew et al.) and of Apache Harmony DRLVM. This crate owns its syntax:
//!
//! - [`ast`]: the AST, with a [`Span`] on every node;
//! - [`parse`], [`parse_with`], [`parse_bytes`] and [`StubBuilder`]: the parser,
//!   with DRLVM's runtime constants (`%Ni`, `%Nm`, `%Nj`, `%g %p %n %o`) as
//!   typed [`Arg`]s and parse-onto-end;
//! - `Display` for [`Stub`]: the canonical printer, whose output parses back
//!   to an equal stub;
//! - [`diagnostic`]: errors with codes and spans, rendered with carets.
//!
//! Parsing never panics: every malformed input is a [`SyntaxError`] with a
//! stable code. Checking (types, dataflow, every validity rule) is the job
//! of `lil-check`; this crate accepts anything that is *shaped* like LIL.
//!
//! ```
//! use lil_syntax::{parse, parse_with, Arg};
//!
//! let stub = parse("entry 0:managed:g4,pint:ref; locals 1; l0 = ts; ld r, [l0+16:ref]; ret;")?;
//! assert_eq!(stub.body.len(), 4);
//!
//! // Runtime constants are typed arguments, never varargs.
//! let frontier_offset = 16;
//! let same = parse_with(
//!     "entry 0:managed:g4,pint:ref; locals 1; l0 = ts; ld r, [l0+%0i:ref]; ret;",
//!     &[Arg::int(frontier_offset)],
//! )?;
//! assert_eq!(stub, same);
//!
//! // The printer's output parses back to the same stub.
//! assert_eq!(parse(&stub.to_string())?, stub);
//! # Ok::<(), lil_syntax::SyntaxErrors>(())
//! ```

#![warn(missing_docs)]

pub mod ast;
pub mod diagnostic;
pub mod directive;
pub mod error;
pub mod hole;
mod parser;
mod print;
pub mod span;

pub use ast::*;
pub use diagnostic::{Diagnostic, Severity};
pub use directive::{
    Arg, ArgList, DirectiveArgs, IntUse, MethodDescriptor, MethodSig, SignatureKind, ValueKind,
};
pub use error::{SyntaxError, SyntaxErrorKind, SyntaxErrors};
pub use span::Span;

use parser::{LabelTable, Parser};

/// Parse a whole stub that uses no runtime constants.
pub fn parse(text: &str) -> Result<Stub, SyntaxErrors> {
    parse_with(text, &[])
}

/// Parse a whole stub, filling `%Ni` / `%Nm` / `%Nj` from `args`.
pub fn parse_with(text: &str, args: &[Arg<'_>]) -> Result<Stub, SyntaxErrors> {
    parse_single(text, &mut ArgList::new(args))
}

/// One fragment, entry included, without keeping a copy of the text.
///
/// Generic so that [`parse_with`] gets its own instance of the parser, with
/// [`ArgList`]'s lookups inlined; everything else goes through `dyn`.
fn parse_single<A: DirectiveArgs + ?Sized>(text: &str, args: &mut A) -> Result<Stub, SyntaxErrors> {
    if text.len() > u32::MAX as usize {
        return Err(SyntaxError {
            kind: SyntaxErrorKind::TooManyErrors,
            span: Span::new(0, 0),
        }
        .into());
    }
    let mut labels = LabelTable::default();
    let mut counter = 0;
    let (entry, body, errors) = {
        let mut parser = Parser::new(text, 0, args, &mut labels, &mut counter);
        let mut body = Vec::with_capacity(parser::statement_estimate(text));
        let entry = match parser.parse_entry() {
            Ok(entry) => Some(entry),
            Err(e) => {
                parser.errors.push(*e);
                None
            }
        };
        if parser.errors.is_empty() {
            parser.parse_body(&mut body);
        }
        (entry, body, std::mem::take(&mut parser.errors))
    };
    let mut errors = errors;
    if errors.is_empty()
        && let Err(kind) = args.finish()
    {
        errors.push(SyntaxError {
            kind,
            span: Span::new(0, text.len() as u32),
        });
    }
    match entry {
        Some(entry) if errors.is_empty() => Ok(Stub {
            entry,
            body,
            labels: labels.names,
        }),
        _ => Err(SyntaxErrors(errors)),
    }
}

/// Parse bytes that should be UTF-8 LIL text; invalid UTF-8 is an error
/// pointing at the first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> Result<Stub, SyntaxErrors> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let at = e.valid_up_to() as u32;
            Err(SyntaxError {
                kind: SyntaxErrorKind::InvalidUtf8 {
                    offset: e.valid_up_to(),
                },
                span: Span::new(at, at + 1),
            }
            .into())
        }
    }
}

/// Parse with a custom source of directive values (used by `lil_parse!`).
#[doc(hidden)]
pub fn parse_with_directives(
    text: &str,
    args: &mut dyn DirectiveArgs,
) -> Result<Stub, SyntaxErrors> {
    parse_single(text, args)
}

/// A stub built from several fragments, as DRLVM's `lil_parse_code_stub`
/// followed by `lil_parse_onto_end` calls.
///
/// The first fragment holds the `entry`; each [`append`](Self::append)
/// parses more instructions onto the end. Each fragment has its own
/// arguments (numbering restarts at 0), while the label counter of
/// `%g %p %n %o` carries across fragments. Spans of later fragments point
/// into [`source`](Self::source), the fragments joined by newlines.
///
/// ```
/// use lil_syntax::{Arg, StubBuilder};
/// let mut b = StubBuilder::new("entry 0:managed:pint:pint; jc i0=0,%n;", &[])?;
/// b.append("r = %0i; ret; :%g; r = i0; ret;", &[Arg::int(7)])?;
/// let stub = b.finish();
/// assert_eq!(stub.labels.len(), 1);
/// # Ok::<(), lil_syntax::SyntaxErrors>(())
/// ```
#[derive(Clone, Debug)]
pub struct StubBuilder {
    entry: Option<Entry>,
    body: Vec<Instruction>,
    labels: LabelTable,
    label_counter: u32,
    source: String,
}

impl StubBuilder {
    fn empty() -> StubBuilder {
        StubBuilder {
            entry: None,
            body: Vec::new(),
            labels: LabelTable::default(),
            label_counter: 0,
            source: String::new(),
        }
    }

    /// Start a stub from a fragment that begins with its `entry` declaration.
    pub fn new(text: &str, args: &[Arg<'_>]) -> Result<StubBuilder, SyntaxErrors> {
        let mut builder = StubBuilder::empty();
        builder.parse_fragment(text, &mut ArgList::new(args), true)?;
        Ok(builder)
    }

    /// Parse a fragment onto the end. On error the builder is unchanged.
    pub fn append(&mut self, text: &str, args: &[Arg<'_>]) -> Result<(), SyntaxErrors> {
        self.parse_fragment(text, &mut ArgList::new(args), false)
    }

    /// Parse a fragment onto the end with a custom source of directive values.
    #[doc(hidden)]
    pub fn append_with_directives(
        &mut self,
        text: &str,
        args: &mut dyn DirectiveArgs,
    ) -> Result<(), SyntaxErrors> {
        self.parse_fragment(text, args, false)
    }

    fn parse_fragment(
        &mut self,
        text: &str,
        args: &mut dyn DirectiveArgs,
        with_entry: bool,
    ) -> Result<(), SyntaxErrors> {
        let saved_source = self.source.len();
        let saved_labels = self.labels.names.len();
        let saved_counter = self.label_counter;
        let saved_body = self.body.len();
        if !self.source.is_empty() {
            self.source.push('\n');
        }
        let base = self.source.len();
        if base.saturating_add(text.len()) > u32::MAX as usize {
            self.source.truncate(saved_source);
            return Err(SyntaxError {
                kind: SyntaxErrorKind::TooManyErrors,
                span: Span::new(0, 0),
            }
            .into());
        }
        self.source.push_str(text);
        let mut errors = {
            let mut parser = Parser::new(
                text,
                base as u32,
                args,
                &mut self.labels,
                &mut self.label_counter,
            );
            if with_entry {
                match parser.parse_entry() {
                    Ok(entry) => self.entry = Some(entry),
                    Err(e) => parser.errors.push(*e),
                }
            }
            if parser.errors.is_empty() {
                parser.parse_body(&mut self.body);
            }
            std::mem::take(&mut parser.errors)
        };
        if errors.is_empty()
            && let Err(kind) = args.finish()
        {
            errors.push(SyntaxError {
                kind,
                span: Span::new(base as u32, (base + text.len()) as u32),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            self.source.truncate(saved_source);
            self.labels.truncate(saved_labels);
            self.label_counter = saved_counter;
            self.body.truncate(saved_body);
            if with_entry {
                self.entry = None;
            }
            Err(SyntaxErrors(errors))
        }
    }

    /// The text of all fragments so far, joined by newlines; spans point here.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The stub built so far.
    pub fn finish(self) -> Stub {
        Stub {
            // `new` and `parse_with_directives` only return a builder whose
            // first fragment parsed, entry included.
            entry: self.entry.unwrap_or(Entry {
                std_places: 0,
                signature: EntrySignature::Arbitrary {
                    cc: CallConv::Platform,
                    span: Span::DUMMY,
                },
                span: Span::DUMMY,
            }),
            body: self.body,
            labels: self.labels.names,
        }
    }
}

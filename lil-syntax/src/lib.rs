//! The LIL front end: text → [`Stub`].
//!
//! LIL is the architecture-neutral stub language of the VM'04 paper
//! (Glew et al.) and of Apache Harmony DRLVM. This crate owns its syntax:
//!
//! - [`ast`]: the AST, with a [`Span`] on every node;
//! - [`parse`], [`parse_with`], [`parse_bytes`] and [`StubBuilder`]: the parser,
//!   with DRLVM's runtime constants (`%Ni`, `%Nm`, `%Nj`, `%g %p %n %o`) as
//!   typed [`Arg`]s and parse-onto-end; [`parse_with_into`] parses into a
//!   [`Stub`] already held, reusing its allocations (a VM generating many
//!   stubs pays for none per stub once its stub is warm);
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

use parser::{LabelIndex, LabelTable, Parser, SpareParams};

/// Parse a whole stub that uses no runtime constants.
pub fn parse(text: &str) -> Result<Stub, SyntaxErrors> {
    parse_with(text, &[])
}

/// Parse a whole stub, filling `%Ni` / `%Nm` / `%Nj` from `args`.
pub fn parse_with(text: &str, args: &[Arg<'_>]) -> Result<Stub, SyntaxErrors> {
    parse_single(text, &mut ArgList::new(args))
}

/// [`parse_with`], into `stub`, reusing the allocations it holds: for a VM
/// that generates many stubs, one after the other, from the same or
/// similar texts.
///
/// On success `*stub` equals what `parse_with(text, args)` returns,
/// whatever it held before. Reused are the body's vector (sized from the
/// text's `;`s only when it has no allocation yet; otherwise it grows as
/// needed), the labels' vector, each label name's allocation where the
/// new name of the same id has the same length, and the parameter
/// vectors of the entry's and the `out`s' signatures (the first four
/// with parameters; further signatures get new ones, and a signature
/// without parameters an empty vector, which allocates nothing).
///
/// On error `stub` is left empty but valid: `entry 0:platform:arbitrary;`
/// with [`Span::DUMMY`] spans, no body, no labels (the body's and labels'
/// vectors keep their allocations for the next call).
///
/// ```
/// use lil_syntax::{parse, parse_with, parse_with_into, Arg};
///
/// let text = "entry 0:managed:pint:pint; jc i0=0, zero; r = %0i; ret; :zero; r = i0; ret;";
/// let mut stub = parse("entry 0:platform:g4:void; ret;")?;
/// for value in [1, 2, 3] {
///     parse_with_into(text, &[Arg::int(value)], &mut stub)?;
///     assert_eq!(stub, parse_with(text, &[Arg::int(value)])?);
/// }
/// assert!(parse_with_into("entry 0:managed:pint:pint; oops;", &[], &mut stub).is_err());
/// assert!(stub.body.is_empty() && stub.labels.is_empty());
/// # Ok::<(), lil_syntax::SyntaxErrors>(())
/// ```
pub fn parse_with_into(text: &str, args: &[Arg<'_>], stub: &mut Stub) -> Result<(), SyntaxErrors> {
    parse_single_into(text, &mut ArgList::new(args), stub)
}

/// The entry of a stub that holds nothing (no allocation).
const EMPTY_ENTRY: Entry = Entry {
    std_places: 0,
    signature: EntrySignature::Arbitrary {
        cc: CallConv::Platform,
        span: Span::DUMMY,
    },
    span: Span::DUMMY,
};

/// One fragment, entry included, into a new stub, without keeping a copy
/// of the text: [`parse_with`] and [`parse_with_directives`].
///
/// Generic so that [`parse_with`] gets its own instance of the parser, with
/// [`ArgList`]'s lookups inlined; everything else goes through `dyn`.
fn parse_single<A: DirectiveArgs + ?Sized>(text: &str, args: &mut A) -> Result<Stub, SyntaxErrors> {
    let mut entry = EMPTY_ENTRY;
    let mut body = Vec::new();
    let mut labels = Vec::new();
    parse_parts(
        text,
        args,
        &mut entry,
        &mut body,
        LabelTable::reusing(&mut labels),
        None,
    )?;
    Ok(Stub {
        entry,
        body,
        labels,
    })
}

/// [`parse_single`] into `stub`, reusing its allocations: see
/// [`parse_with_into`].
fn parse_single_into<A: DirectiveArgs + ?Sized>(
    text: &str,
    args: &mut A,
    stub: &mut Stub,
) -> Result<(), SyntaxErrors> {
    let Stub {
        entry,
        body,
        labels,
    } = stub;
    // The old signatures' parameter vectors, in the order the new ones
    // are parsed, so that each new signature gets the one at its place.
    let mut spare_params = SpareParams::default();
    if let EntrySignature::Typed(sig) = &mut entry.signature {
        spare_params.put(std::mem::take(&mut sig.params));
    }
    empty_body(body, &mut spare_params);
    let parsed = parse_parts(
        text,
        args,
        entry,
        body,
        LabelTable::reusing(labels),
        Some(&mut spare_params),
    );
    match parsed {
        Ok(()) => Ok(()),
        Err(errors) => {
            *entry = EMPTY_ENTRY;
            body.clear();
            labels.clear();
            Err(errors)
        }
    }
}

/// Empty `body`, its `out`s' parameter vectors put into `spare_params`.
///
/// One pass takes out what the instructions own (the vectors, and a
/// `print`'s text, dropped), and then the length is set to zero with
/// nothing left to drop: `retain_mut` or `clear` walked the body twice
/// (the second time for the drop glue), about 50 instructions more for
/// Figure 1's 17 statements and 100 for Figure 3's. The `match` names
/// every kind, so a new kind that owns memory cannot be forgotten here.
fn empty_body(body: &mut Vec<Instruction>, spare_params: &mut SpareParams) {
    for inst in body.iter_mut() {
        match &mut inst.kind {
            InstKind::Out(sig) => spare_params.put(std::mem::take(&mut sig.params)),
            InstKind::Print { message, .. } => {
                if let PrintMessage::Text(text) = message {
                    drop(std::mem::take(text));
                }
            }
            InstKind::Label(_)
            | InstKind::Locals(_)
            | InstKind::StdPlaces(_)
            | InstKind::Alloc { .. }
            | InstKind::Move { .. }
            | InstKind::Unary { .. }
            | InstKind::Binary { .. }
            | InstKind::Ts { .. }
            | InstKind::Handles(_)
            | InstKind::Ld { .. }
            | InstKind::St { .. }
            | InstKind::Inc { .. }
            | InstKind::Cas { .. }
            | InstKind::Jump(_)
            | InstKind::JumpIf { .. }
            | InstKind::In2Out { .. }
            | InstKind::Call { .. }
            | InstKind::Ret
            | InstKind::PushM2n { .. }
            | InstKind::M2nSaveAll
            | InstKind::PopM2n => {}
        }
    }
    // SAFETY: shortening a vector is always sound (no element has to be
    // initialised); its elements are forgotten rather than dropped, which
    // leaks nothing: the loop above took out all they own.
    unsafe { body.set_len(0) };
}

/// The one implementation behind [`parse_single`] and
/// [`parse_single_into`]: a fragment, entry included, onto an empty `body`
/// and `labels` (left holding the text's labels), its signatures'
/// parameter vectors taken from `spare_params` if any; the entry into
/// `entry`, or every error (and then `entry` may hold the text's entry or
/// the one it held).
///
/// The entry is stored as soon as it is parsed rather than returned: a
/// returned entry was copied through three stack slots on its way to the
/// stub. Inlined into its two callers: the call, and the copies of the
/// entry it returned through memory, cost about 45 instructions a parse
/// for [`parse_with`] and 10 for [`parse_with_into`].
#[inline(always)]
fn parse_parts<A: DirectiveArgs + ?Sized>(
    text: &str,
    args: &mut A,
    entry: &mut Entry,
    body: &mut Vec<Instruction>,
    labels: LabelTable<'_>,
    spare_params: Option<&mut SpareParams>,
) -> Result<(), SyntaxErrors> {
    if text.len() > u32::MAX as usize {
        return Err(SyntaxError {
            kind: SyntaxErrorKind::TooManyErrors,
            span: Span::new(0, 0),
        }
        .into());
    }
    if body.capacity() == 0 {
        // Allocated outright: `reserve` would go through the path that grows.
        *body = Vec::with_capacity(parser::statement_estimate(text));
    }
    let mut counter = 0;
    let mut errors = {
        let mut parser = Parser::<A, false>::new(text, 0, args, labels, &mut counter);
        parser.spare_params = spare_params;
        match parser.parse_entry() {
            Ok(parsed) => {
                *entry = parsed;
                if parser.errors.is_empty() {
                    parser.parse_body(body);
                }
            }
            Err(e) => parser.errors.push(*e),
        }
        // A stub's labels are found by id: their index goes.
        parser.labels.finish();
        std::mem::take(&mut parser.errors)
    };
    if errors.is_empty()
        && let Err(kind) = args.finish()
    {
        errors.push(SyntaxError {
            kind,
            span: Span::new(0, text.len() as u32),
        });
    }
    // A failed entry left an error, so no errors means `entry` is the text's.
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SyntaxErrors(errors))
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
    /// The label names so far, by id, and their index while they are many.
    labels: Vec<Box<str>>,
    label_index: Option<LabelIndex>,
    label_counter: u32,
    source: String,
}

impl StubBuilder {
    fn empty() -> StubBuilder {
        StubBuilder {
            entry: None,
            body: Vec::new(),
            labels: Vec::new(),
            label_index: None,
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
        let saved_labels = self.labels.len();
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
            let labels = LabelTable::resume(&mut self.labels, self.label_index.take());
            let mut parser =
                Parser::<_, true>::new(text, base as u32, args, labels, &mut self.label_counter);
            if with_entry {
                match parser.parse_entry() {
                    Ok(entry) => self.entry = Some(entry),
                    Err(e) => parser.errors.push(*e),
                }
            }
            if parser.errors.is_empty() {
                parser.parse_body(&mut self.body);
            }
            self.label_index = parser.labels.finish();
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
            if self.labels.len() > saved_labels {
                self.labels.truncate(saved_labels);
                // Rebuilt with the next new name if they are still many.
                self.label_index = None;
            }
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
            entry: self.entry.unwrap_or(EMPTY_ENTRY),
            body: self.body,
            labels: self.labels,
        }
    }
}

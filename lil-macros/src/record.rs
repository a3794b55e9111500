//! The compile-time parse: holes are recorded and stand in as sentinels.
//!
//! The macro parses its text with the real parser
//! (`lil_syntax::parse_with_directives`), giving it a [`Recorder`] as the
//! source of directive values. Each `{…}` hole is recorded (where it is,
//! what it stands for, which argument fills it) and the parser is handed a
//! *sentinel*, a value chosen so that the expansion can find it again in
//! the parsed stub:
//!
//! - an immediate hole `k` is [`immediate_sentinel`]`(k)`, far below every
//!   literal (`-2^63` at least) yet small enough that the parser can add and
//!   subtract any number of them inside an address without overflowing;
//! - an index, count or size hole `k` is [`unsigned_sentinel`]`(k)`,
//!   `u32::MAX - k`, as is an immediate hole followed by `*` (the parser
//!   turns `{s}*l1` into a `u32` scale).
//!
//! A sentinel alone never decides that a field is a hole: `emit` also
//! requires the hole's span to lie inside the node that holds the field and
//! its use to fit the field, so a literal that happens to equal a sentinel
//! (`alloc l0, 4294967295`) stays a literal.
//!
//! Invariant: for one text and one `perturbed` choice, the parser calls
//! [`Recorder::hole`] in the same order with the same arguments, so hole
//! numbers agree between the parses `emit` compares.

use lil_syntax::{DirectiveArgs, IntUse, SignatureKind, Span, SyntaxErrorKind, Type};

/// Which argument fills a hole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Filler {
    /// The positional argument with this index (`{}` or `{N}`).
    Positional(usize),
    /// The named argument with this index (`{name}` with `name = …`).
    Named(usize),
    /// The variable `name` in scope (`{name}` with no such argument).
    Capture(String),
}

/// One `{…}` in the text.
#[derive(Clone, Debug)]
pub(crate) struct Hole {
    /// The hole as written, braces included.
    pub text: String,
    /// Where it is in the text.
    pub span: Span,
    /// What the parser used it as.
    pub usage: IntUse,
    /// An immediate followed by `*`: the parser may take it as a scale.
    pub starred: bool,
    /// The sentinel handed to the parser.
    pub sentinel: i128,
    /// Who fills it.
    pub filler: Filler,
}

/// Sentinels of immediate holes start here and go down.
const IMMEDIATE_SENTINEL_BASE: i128 = -(1 << 90);

/// The sentinel of immediate hole `k`. Literals are at least `-2^63`; a text
/// shorter than `2^32` bytes has fewer than `2^31` terms, so sums of these
/// stay far from `i128::MIN`.
pub(crate) fn immediate_sentinel(k: usize) -> i128 {
    IMMEDIATE_SENTINEL_BASE - k as i128
}

/// The sentinel of index, count and size hole `k`. A text has fewer than
/// `2^31` holes, so this is above `2^31`, above every index and count.
pub(crate) fn unsigned_sentinel(k: usize) -> i128 {
    i128::from(u32::MAX) - k as i128
}

/// The [`DirectiveArgs`] of the compile-time parse.
pub(crate) struct Recorder<'a> {
    text: &'a str,
    positional: usize,
    named: &'a [String],
    next_implicit: usize,
    /// The immediate hole whose sentinel is raised by one, to learn the sign
    /// with which it enters an address offset.
    perturbed: Option<usize>,
    /// Holes in the order the parser met them.
    pub holes: Vec<Hole>,
}

impl<'a> Recorder<'a> {
    /// A recorder for `text` with `positional` positional arguments and the
    /// given named ones.
    pub(crate) fn new(
        text: &'a str,
        positional: usize,
        named: &'a [String],
        perturbed: Option<usize>,
    ) -> Recorder<'a> {
        Recorder {
            text,
            positional,
            named,
            next_implicit: 0,
            perturbed,
            holes: Vec::new(),
        }
    }

    fn filler(&mut self, name: &str, written: &str) -> Result<Filler, SyntaxErrorKind> {
        let index = if name.is_empty() {
            let index = self.next_implicit;
            self.next_implicit += 1;
            index
        } else if name.bytes().all(|b| b.is_ascii_digit()) {
            name.parse::<usize>().unwrap_or(usize::MAX)
        } else if syn::parse_str::<syn::Ident>(name).is_ok() {
            return Ok(match self.named.iter().position(|n| n == name) {
                Some(index) => Filler::Named(index),
                None => Filler::Capture(name.to_owned()),
            });
        } else {
            return Err(SyntaxErrorKind::BadDirective {
                directive: written.to_owned(),
                reason: "a hole is `{}`, `{N}` (N a positional argument) or `{name}` \
                         (name a named argument or a variable in scope)",
            });
        };
        if index < self.positional {
            Ok(Filler::Positional(index))
        } else {
            Err(SyntaxErrorKind::MissingArgument {
                directive: written.to_owned(),
                index,
                given: self.positional,
            })
        }
    }
}

/// Whether the first token after `end` is `*` (skipping what the parser skips).
fn followed_by_star(text: &str, end: usize) -> bool {
    let bytes = text.as_bytes();
    let mut at = end;
    while let Some(&b) = bytes.get(at) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = match bytes[at..].iter().position(|&c| c == b'\n') {
                    Some(p) => at + p + 1,
                    None => bytes.len(),
                };
            }
            b'*' => return true,
            _ => return false,
        }
    }
    false
}

impl DirectiveArgs for Recorder<'_> {
    fn int(
        &mut self,
        _index: usize,
        directive: &str,
        _usage: IntUse,
    ) -> Result<i128, SyntaxErrorKind> {
        Err(SyntaxErrorKind::BadDirective {
            directive: directive.to_owned(),
            reason: "`%` directives belong to the text API; in `lil_parse!` write a \
                     `{}` or `{name}` hole and pass the value as an argument",
        })
    }

    fn signature(
        &mut self,
        _index: usize,
        directive: &str,
        _kind: SignatureKind,
    ) -> Result<(Vec<Type>, Option<Type>), SyntaxErrorKind> {
        Err(SyntaxErrorKind::BadDirective {
            directive: directive.to_owned(),
            reason: "`%` directives belong to the text API; in `lil_parse!` write the \
                     signature out (`cc:T1,T2:RT`)",
        })
    }

    fn hole(&mut self, name: &str, span: Span, usage: IntUse) -> Result<i128, SyntaxErrorKind> {
        let written = self.text.get(span.range()).unwrap_or(name).to_owned();
        let filler = self.filler(name, &written)?;
        let k = self.holes.len();
        let starred = usage == IntUse::Immediate && followed_by_star(self.text, span.range().end);
        let sentinel = if usage == IntUse::Immediate && !starred {
            immediate_sentinel(k) + i128::from(self.perturbed == Some(k))
        } else {
            unsigned_sentinel(k)
        };
        self.holes.push(Hole {
            text: written,
            span,
            usage,
            starred,
            sentinel,
            filler,
        });
        Ok(sentinel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_detection_skips_what_the_parser_skips() {
        assert!(followed_by_star("{a}*l1", 3));
        assert!(followed_by_star("{a} // x\n * l1", 3));
        assert!(!followed_by_star("{a}+8", 3));
        assert!(!followed_by_star("{a}", 3));
    }

    #[test]
    fn sentinels_are_out_of_every_literal_range() {
        assert!(immediate_sentinel(0) < -(1i128 << 63));
        assert!(unsigned_sentinel(1 << 30) > i128::from(lil_syntax::MAX_INDEX));
    }
}

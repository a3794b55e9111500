//! The run-time half of `lil_parse!`: turning Rust values into hole values.
//!
//! `lil_parse!` checks a stub's syntax at compile time and expands to code
//! that builds the [`Stub`] directly; the only work left for run time is to
//! convert the Rust expressions that fill its `{name}` / `{}` holes and to
//! check that each value fits where its hole stands. That is this module.
//!
//! The checks are exactly those the text API applies to a `%Ni` directive
//! ([`IntUse::accepts`]), and a failure is the same
//! [`SyntaxErrorKind::ArgumentOutOfRange`] error, located at the hole. So
//! `lil_parse!("… o{k} …", k = v)` and `parse_with("… o%0i …", &[Arg::int(v)])`
//! accept the same values.
//!
//! ```
//! use lil_syntax::hole::{self, Holes, IntoImmediate};
//! use lil_syntax::{Span, SyntaxErrorKind};
//!
//! assert_eq!(hole::index(7u8, "{k}", Span::new(4, 7)), Ok(7));
//! let error = hole::index(70_000, "{k}", Span::new(4, 7)).unwrap_err();
//! assert!(matches!(error.kind, SyntaxErrorKind::ArgumentOutOfRange { .. }));
//!
//! // Pointers are immediates holding their address.
//! let word = 0u64;
//! assert_eq!((&word as *const u64).into_immediate(), &word as *const u64 as usize as i128);
//!
//! // `Holes` collects every failure, as the macro expansion does.
//! let mut holes = Holes::new();
//! assert_eq!(holes.count(-1, "{n}", Span::new(7, 10)), 0);
//! assert_eq!(holes.errors().len(), 1);
//! ```

use crate::ast::Stub;
use crate::directive::IntUse;
use crate::error::{SyntaxError, SyntaxErrorKind, SyntaxErrors};
use crate::span::Span;

/// A Rust value that can fill an integer hole: every primitive integer type
/// and raw pointers (their address).
///
/// Function pointers are not included (their types cannot be named
/// generically); write `helper as usize` or `helper as *const ()`.
pub trait IntoImmediate {
    /// The value as an `i128`, the type of LIL immediates.
    ///
    /// Exact for every type except `u128` values above `i128::MAX`, which
    /// saturate to `i128::MAX`; that is out of range for every hole, so the
    /// check that follows rejects it either way.
    fn into_immediate(self) -> i128;
}

macro_rules! into_immediate_lossless {
    ($($t:ty),*) => {$(
        impl IntoImmediate for $t {
            fn into_immediate(self) -> i128 {
                i128::from(self)
            }
        }
    )*};
}

into_immediate_lossless!(i8, i16, i32, i64, i128, u8, u16, u32, u64);

impl IntoImmediate for isize {
    fn into_immediate(self) -> i128 {
        // isize is at most 64 bits on every target Rust supports.
        self as i128
    }
}

impl IntoImmediate for usize {
    fn into_immediate(self) -> i128 {
        self as i128
    }
}

impl IntoImmediate for u128 {
    fn into_immediate(self) -> i128 {
        i128::try_from(self).unwrap_or(i128::MAX)
    }
}

impl<T: ?Sized> IntoImmediate for *const T {
    fn into_immediate(self) -> i128 {
        self.cast::<u8>() as usize as i128
    }
}

impl<T: ?Sized> IntoImmediate for *mut T {
    fn into_immediate(self) -> i128 {
        self.cast::<u8>() as usize as i128
    }
}

/// Check `value` for `usage`; `hole` is the hole as written (`{k}`) and
/// `span` where it stands, both for the error.
pub fn check(
    value: impl IntoImmediate,
    usage: IntUse,
    hole: &str,
    span: Span,
) -> Result<i128, SyntaxError> {
    let value = value.into_immediate();
    if usage.accepts(value) {
        Ok(value)
    } else {
        Err(SyntaxError {
            kind: SyntaxErrorKind::ArgumentOutOfRange {
                directive: hole.to_owned(),
                what: usage.describe(),
                value,
            },
            span,
        })
    }
}

/// A hole used as an immediate operand, offset or address:
/// `-2^63 ..= 2^64-1`, as for a `%Ni` directive.
pub fn immediate(value: impl IntoImmediate, hole: &str, span: Span) -> Result<i128, SyntaxError> {
    check(value, IntUse::Immediate, hole, span)
}

fn unsigned(
    value: impl IntoImmediate,
    usage: IntUse,
    hole: &str,
    span: Span,
) -> Result<u32, SyntaxError> {
    let value = check(value, usage, hole, span)?;
    // `check` has bounded the value by u32::MAX for every unsigned use.
    u32::try_from(value).map_err(|_| SyntaxError {
        kind: SyntaxErrorKind::ArgumentOutOfRange {
            directive: hole.to_owned(),
            what: usage.describe(),
            value,
        },
        span,
    })
}

/// A hole used as a variable index (`o{k}`): `0 ..= MAX_INDEX`.
pub fn index(value: impl IntoImmediate, hole: &str, span: Span) -> Result<u32, SyntaxError> {
    unsigned(value, IntUse::Index, hole, span)
}

/// A hole used as a count (`entry {n}:`, `locals {n}`, `std_places {n}`):
/// `0 ..= MAX_INDEX`.
pub fn count(value: impl IntoImmediate, hole: &str, span: Span) -> Result<u32, SyntaxError> {
    unsigned(value, IntUse::Count, hole, span)
}

/// A hole used as an `alloc` size or an index scale: `0 ..= u32::MAX`.
pub fn size(value: impl IntoImmediate, hole: &str, span: Span) -> Result<u32, SyntaxError> {
    unsigned(value, IntUse::Size, hole, span)
}

/// Converts the holes of one `lil_parse!` stub, collecting every failure.
///
/// Each method returns the checked value, or 0 after recording the error,
/// so that the expansion can build the stub in one expression and
/// [`finish`](Holes::finish) decides whether it is returned.
#[derive(Clone, Debug, Default)]
pub struct Holes {
    errors: Vec<SyntaxError>,
}

impl Holes {
    /// No holes converted yet.
    pub fn new() -> Holes {
        Holes::default()
    }

    fn record<T: Default>(&mut self, result: Result<T, SyntaxError>) -> T {
        result.unwrap_or_else(|error| {
            self.errors.push(error);
            T::default()
        })
    }

    /// See [`immediate`](fn@immediate).
    pub fn immediate(&mut self, value: impl IntoImmediate, hole: &str, span: Span) -> i128 {
        let result = immediate(value, hole, span);
        self.record(result)
    }

    /// See [`index`](fn@index).
    pub fn index(&mut self, value: impl IntoImmediate, hole: &str, span: Span) -> u32 {
        let result = index(value, hole, span);
        self.record(result)
    }

    /// See [`count`](fn@count).
    pub fn count(&mut self, value: impl IntoImmediate, hole: &str, span: Span) -> u32 {
        let result = count(value, hole, span);
        self.record(result)
    }

    /// See [`size`](fn@size).
    pub fn size(&mut self, value: impl IntoImmediate, hole: &str, span: Span) -> u32 {
        let result = size(value, hole, span);
        self.record(result)
    }

    /// The errors recorded so far, in the order the holes were converted.
    pub fn errors(&self) -> &[SyntaxError] {
        &self.errors
    }

    /// `stub` if every hole fitted, otherwise every error.
    pub fn finish(self, stub: Stub) -> Result<Stub, SyntaxErrors> {
        if self.errors.is_empty() {
            Ok(stub)
        } else {
            Err(SyntaxErrors(self.errors))
        }
    }
}

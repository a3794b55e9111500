//! Byte ranges into LIL source text.
//!
//! A [`Span`] locates a node in the text it was parsed from. Spans are *not*
//! part of a node's value: two ASTs that denote the same program compare
//! equal wherever their text came from, which is what makes
//! `parse(print(stub)) == stub` a meaningful property. Compare
//! [`Span::start`] and [`Span::end`] when positions matter.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;

/// A half-open byte range `start..end` into the source text.
#[derive(Clone, Copy, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span covering `start..end`.
    pub const fn new(start: u32, end: u32) -> Span {
        Span { start, end }
    }

    /// The span used for nodes that were built in code rather than parsed.
    pub const DUMMY: Span = Span { start: 0, end: 0 };

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a `Range<usize>`, for slicing the source text.
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Whether two spans cover the same bytes (`==` on spans is always true).
    pub fn same_range(self, other: Span) -> bool {
        self.start == other.start && self.end == other.end
    }

    /// Shift the span right by `by` bytes (used when fragments are appended).
    pub fn shifted(self, by: u32) -> Span {
        Span {
            start: self.start.saturating_add(by),
            end: self.end.saturating_add(by),
        }
    }
}

impl PartialEq for Span {
    /// Always true: spans are not part of a node's value (see the module docs).
    fn eq(&self, _other: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl Hash for Span {
    fn hash<H: Hasher>(&self, _state: &mut H) {}
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Line and column (both 1-based, column counted in characters) of a byte offset.
pub fn line_col(source: &str, offset: u32) -> (usize, usize) {
    let offset = (offset as usize).min(source.len());
    let before = &source.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

//! LIL-rs: the LIL stub language for virtual machines, in Rust.
//!
//! This facade gathers the stages a VM uses: [`syntax`] turns LIL text into
//! a [`syntax::Stub`], and [`lil_parse!`] does the same at compile time, so
//! that a stub written in Rust source is checked when the crate builds and
//! costs no parsing when it runs; its `{…}` holes take Rust integers and
//! pointers at run time.
//!
//! ```
//! use lil::lil_parse;
//!
//! // A thread-local allocation fast path: the offset is known only at run time.
//! let frontier_offset = 16;
//! let stub = lil_parse!(
//!     "entry 0:managed:g4,pint:ref;
//!      locals 1;
//!      l0 = ts;
//!      ld r, [l0+{frontier_offset}:ref];
//!      ret;"
//! )?;
//! assert_eq!(stub.body.len(), 4);
//!
//! // The same stub through the text API.
//! let same = lil::syntax::parse_with(
//!     "entry 0:managed:g4,pint:ref; locals 1; l0 = ts; ld r, [l0+%0i:ref]; ret;",
//!     &[lil::syntax::Arg::int(frontier_offset)],
//! )?;
//! assert_eq!(stub, same);
//! # Ok::<(), lil::syntax::SyntaxErrors>(())
//! ```

#![warn(missing_docs)]

// ---- front end: text and compile-time stubs -------------------------------

/// The front end: AST, parser, printer, runtime constants, diagnostics.
pub use lil_syntax as syntax;

pub use lil_macros::lil_parse;

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
//!
//! Past the front end, [`check_text`] validates a stub into a
//! [`CheckedStub`], [`compile`] / [`compile_for`] generate position-
//! independent machine code for this machine or either target, [`Compiler`]
//! does the same for many stubs in a row with buffers reused from one to
//! the next (what a VM generating stubs at run time keeps per thread),
//! [`Jit`] installs stubs into a code cache and hands out callable
//! addresses, and [`disasm`] shows what was generated, instruction by
//! instruction:
//!
//! ```
//! use lil::{HostEnv, Target};
//!
//! let text = "entry 0:platform:g4,g4:g4;\nr = i0 + i1;\nret;\n";
//! let checked = lil::check_text(text)?;
//! // Any target on any host: code generation needs no CPU of that kind.
//! let code = lil::compile_checked_for(Target::X64, &checked, &HostEnv::default())?;
//! let insns = lil::disasm::instructions(&code);
//! assert_eq!(insns.last().map(|i| i.mnemonic()), Some("ret"));
//!
//! // The listing puts each LIL line above the instructions it produced.
//! let listing = lil::disasm::listing(&code, checked.stub(), text);
//! assert!(listing.contains("; 3 | ret;"));
//! # Ok::<(), lil::Error>(())
//! ```

#![warn(missing_docs)]

// ---- front end: text and compile-time stubs -------------------------------

/// The front end: AST, parser, printer, runtime constants, diagnostics.
pub use lil_syntax as syntax;

pub use lil_macros::lil_parse;

// ---- back end: checking, code generation, installation, disassembly --------

mod compiler;
pub mod debuginfo;
pub mod disasm;
mod error;
pub mod gdb;
mod jit;
pub mod perf;
pub mod template;

// The examples of docs/GUIDE.md run as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../docs/GUIDE.md")]
struct GuideDoctests;

/// The validity checker: `Stub` → [`CheckedStub`], diagnostics with codes.
pub use lil_check as check;
/// What both backends share: the `Backend` trait, conventions, host
/// environment, M2N frames, the code cache.
pub use lil_codegen as codegen;

pub use compiler::Compiler;
pub use error::Error;
pub use jit::{Installed, Jit};
pub use lil_check::CheckedStub;
pub use lil_codegen::{CompiledStub, HostEnv, Target};

use lil_codegen::Backend;

/// The backend that generates code for `target`.
pub fn backend(target: Target) -> &'static dyn Backend {
    match target {
        Target::X64 => &lil_codegen_x64::X64Backend,
        Target::Arm64 => &lil_codegen_arm64::Arm64Backend,
    }
}

/// The target of the machine this code runs on, or
/// [`Error::UnsupportedHost`] on a machine that is neither x86-64 nor
/// AArch64.
pub fn host_target() -> Result<Target, Error> {
    Target::host().ok_or(Error::UnsupportedHost {
        arch: std::env::consts::ARCH,
    })
}

/// Parse and check LIL text that uses no runtime constants (`%` directives).
/// The checker's warnings are in [`CheckedStub::warnings`].
pub fn check_text(text: &str) -> Result<CheckedStub, Error> {
    let stub = lil_syntax::parse(text)?;
    Ok(lil_check::check_owned(stub)?)
}

/// Parse, check and compile `text` for this machine.
///
/// ```
/// let code = lil::compile("entry 0:platform:g8:g8; r = i0; ret;", &lil::HostEnv::default())?;
/// assert_eq!(Some(code.target), lil::Target::host());
/// # Ok::<(), lil::Error>(())
/// ```
pub fn compile(text: &str, env: &HostEnv) -> Result<CompiledStub, Error> {
    compile_for(host_target()?, text, env)
}

/// Parse, check and compile `text` for `target`, whatever this machine is.
pub fn compile_for(target: Target, text: &str, env: &HostEnv) -> Result<CompiledStub, Error> {
    compile_checked_for(target, &check_text(text)?, env)
}

/// Compile a checked stub for this machine.
pub fn compile_checked(stub: &CheckedStub, env: &HostEnv) -> Result<CompiledStub, Error> {
    compile_checked_for(host_target()?, stub, env)
}

/// Compile a checked stub for `target`.
pub fn compile_checked_for(
    target: Target,
    stub: &CheckedStub,
    env: &HostEnv,
) -> Result<CompiledStub, Error> {
    backend(target)
        .compile(stub, env)
        .map_err(|source| Error::Codegen { target, source })
}

//! What both LIL backends share.
//!
//! A backend turns a [`CheckedStub`] into machine code for one target. The
//! parts that do not depend on the instruction set live here, so that the
//! two emitters (`lil-codegen-x64`, `lil-codegen-arm64`) only choose
//! instructions:
//!
//! - [`target`]: the ISA as data ([`TargetDesc`], [`CallingConvention`]);
//! - [`host`]: the host VM's facts ([`HostEnv`]: `ts`, M2N list, hooks, conventions);
//! - [`m2n`]: the [`M2nFrame`] layout and a stack walker;
//! - [`plan`]: where every variable lives and the frame layout ([`FramePlan`]);
//! - [`drive`]: the emission driver (framing, labels, edge stubs, source map);
//! - [`moves`]: parallel moves (argument shuffles) resolved into sequences;
//! - [`asm`]: the assembling buffer `dynasm!` writes into;
//! - [`cache`]: the W^X code cache stubs are installed into;
//! - [`unwind`]: where the frame is at every byte, for debuggers and profilers.
//!
//! Invariant: a backend only ever sees checked stubs, and never panics on
//! one; a limit of the target is a [`CodegenError`].

#![warn(missing_docs)]

pub mod asm;
pub mod cache;
pub mod drive;
pub mod host;
pub mod m2n;
pub mod moves;
pub mod plan;
pub mod target;
pub mod unwind;

pub use cache::{CacheError, CodeCache, InstalledCode};
pub use host::{HostEnv, M2nHooks, ThreadPointer};
pub use lil_check::CheckedStub;
pub use m2n::M2nFrame;
pub use plan::{FramePlan, Loc};

pub use target::{ArgLoc, CallingConvention, Reg, RegClass, Target, TargetDesc};

use std::ops::Range;

/// A failure to generate code for a checked stub.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodegenError {
    /// The host asked for a register the target cannot give up.
    #[error("{what} r{reg} is already used by LIL on this target")]
    BadHostRegister {
        /// Which register the host described.
        what: &'static str,
        /// Its number.
        reg: u8,
    },
    /// No register left for a purpose that needs one.
    #[error("no register left for {what}")]
    OutOfRegisters {
        /// The purpose.
        what: &'static str,
    },
    /// An assembler error (an encoding dynasm refused).
    #[error("assembler: {0}")]
    Assembler(String),
    /// A host convention the target cannot honour.
    #[error("calling convention `{name}` is not usable on this target: {why}")]
    BadConvention {
        /// The convention.
        name: String,
        /// Why not.
        why: &'static str,
    },
    /// A bug in the backend: a fact the checker promised does not hold.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl CodegenError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            CodegenError::BadHostRegister { .. } => "E0401",
            CodegenError::OutOfRegisters { .. } => "E0402",
            CodegenError::Assembler(_) => "E0403",
            CodegenError::BadConvention { .. } => "E0404",
            CodegenError::Internal(_) => "E0499",
        }
    }
}

/// The machine code range one LIL instruction produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMapEntry {
    /// Index of the instruction in the stub's body.
    pub instruction: u32,
    /// Bytes of code (offsets from the start of the code).
    pub code: Range<u32>,
}

/// Position-independent machine code for one stub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledStub {
    /// The target the code is for.
    pub target: Target,
    /// The code; execution starts at byte 0.
    pub code: Vec<u8>,
    /// For every instruction that produced code, the bytes it produced, in
    /// instruction order. Code not attributable to one instruction (the
    /// prologue placed at a join, edge stubs, embedded strings) is not listed.
    pub source_map: Vec<SourceMapEntry>,
    /// Where data embedded in the code (print strings) starts; the bytes
    /// from here on are not instructions.
    pub data_start: u32,
    /// How to find the caller's frame at every byte of the code.
    pub unwind: unwind::UnwindInfo,
}

impl CompiledStub {
    /// An empty result for `target`, to compile into with
    /// [`Backend::compile_into`] (which grows its buffers once and then
    /// reuses them).
    pub fn new(target: Target) -> CompiledStub {
        CompiledStub {
            target,
            code: Vec::new(),
            source_map: Vec::new(),
            data_start: 0,
            unwind: unwind::UnwindInfo::default(),
        }
    }

    /// Empty the code, source map and unwind information, keeping their
    /// allocations: what [`Backend::compile_into`] leaves after an error.
    pub fn clear(&mut self) {
        self.code.clear();
        self.source_map.clear();
        self.data_start = 0;
        self.unwind.rows.clear();
        self.unwind.saved.clear();
    }
}

/// Empty `v` and make room for `n` elements: its own allocation when that
/// is large enough (a warm [`CompiledStub`]'s), else a new one of exactly
/// `n` (`Vec::reserve` would reach the same through its amortized-growth
/// path, which costs a cold compile some forty instructions more per
/// buffer; an empty vector has nothing to copy).
#[inline]
pub(crate) fn clear_with_room<T>(v: &mut Vec<T>, n: usize) {
    v.clear();
    if v.capacity() < n {
        *v = Vec::with_capacity(n);
    }
}

/// How to generate code, beyond the stub and the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Materialise every constant that needs more than one instruction in
    /// a fixed form that holds any value of its width (on AArch64, the full
    /// `movz` + 3 × `movk`; x86-64's widest encodings already are), so that
    /// a template can patch the constant later
    /// (`lil::template`). Costs a few instructions on AArch64.
    pub patchable_constants: bool,
}

/// A code generator for one target.
pub trait Backend {
    /// The target.
    fn target(&self) -> Target;
    /// The target's registers and C ABI.
    fn desc(&self) -> &'static TargetDesc;
    /// Generate position-independent code for `stub` in `env`.
    fn compile(&self, stub: &CheckedStub, env: &HostEnv) -> Result<CompiledStub, CodegenError> {
        self.compile_with(stub, env, &CompileOptions::default())
    }
    /// [`Backend::compile`] with options.
    fn compile_with(
        &self,
        stub: &CheckedStub,
        env: &HostEnv,
        options: &CompileOptions,
    ) -> Result<CompiledStub, CodegenError> {
        let mut out = CompiledStub::new(self.target());
        self.compile_into(stub, env, options, &mut out)?;
        Ok(out)
    }
    /// [`Backend::compile_with`], into `out`, reusing the allocations it
    /// holds (code, source map, unwind rows): a VM compiling many stubs
    /// keeps one `CompiledStub` and installs its code into the cache after
    /// each compile.
    ///
    /// On success `out` holds exactly what `compile_with` returns (its
    /// `target` set to this backend's). On error `out` holds no result:
    /// its code, source map and unwind information are empty and
    /// `data_start` is 0, their allocations kept for the next compile.
    fn compile_into(
        &self,
        stub: &CheckedStub,
        env: &HostEnv,
        options: &CompileOptions,
        out: &mut CompiledStub,
    ) -> Result<(), CodegenError> {
        self.compile_into_with(stub, env, options, out, &mut CompileScratch::new())
    }
    /// [`Backend::compile_into`], with the backend's own working memory
    /// taken from `scratch` and left there for the next compile (on any
    /// target): the same answer, whatever `scratch` held before.
    fn compile_into_with(
        &self,
        stub: &CheckedStub,
        env: &HostEnv,
        options: &CompileOptions,
        out: &mut CompiledStub,
        scratch: &mut CompileScratch,
    ) -> Result<(), CodegenError>;
}

/// A backend's working memory, kept from one compile to the next by a VM
/// that compiles many stubs ([`Backend::compile_into_with`]).
///
/// It holds the frame plan (about a kilobyte, with the liveness rows and
/// bit sets) and the emission driver's tables (labels, edge stubs,
/// `print` texts), which are filled again for the next stub rather than
/// built and dropped for each. What it holds never changes an answer.
#[derive(Debug)]
pub struct CompileScratch {
    plan: FramePlan,
    tables: drive::EmitTables,
}

impl CompileScratch {
    /// Scratch holding nothing yet (no allocation): compiles fill it.
    #[inline]
    pub fn new() -> CompileScratch {
        CompileScratch {
            plan: FramePlan::blank(),
            tables: drive::EmitTables::default(),
        }
    }

    /// The plan to plan the next stub into with [`FramePlan::plan`], and
    /// the tables to give the emission state ([`drive::EmitState::new`]),
    /// which reads the plan while it fills them (each replaces whatever an
    /// earlier compile left in it).
    #[inline]
    pub fn plan_and_tables(&mut self) -> (&mut FramePlan, &mut drive::EmitTables) {
        (&mut self.plan, &mut self.tables)
    }
}

impl Default for CompileScratch {
    fn default() -> CompileScratch {
        CompileScratch::new()
    }
}

//! The x86-64 backend: `CheckedStub` → position-independent machine code.
//!
//! The register roles and the System V convention are data ([`abi`]); the
//! frame plan comes from `lil-codegen`; this crate chooses instructions
//! ([`emit`] for the machinery, `inst` for one function per LIL
//! instruction). The AArch64 backend has the same layout.
//!
//! ```
//! use lil_codegen::{Backend, HostEnv};
//! let stub = lil_check::assert_valid("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;");
//! let code = lil_codegen_x64::X64Backend.compile(&stub, &HostEnv::default())?;
//! assert!(!code.code.is_empty());
//! # Ok::<(), lil_codegen::CodegenError>(())
//! ```

#![warn(missing_docs)]
// dynasm! expands dynamic registers to `.into()` calls on values that are already u8.
#![allow(clippy::useless_conversion)]

pub mod abi;
mod emit;
mod inst;

use lil_codegen::{
    Backend, CheckedStub, CodegenError, CompileOptions, CompileScratch, CompiledStub, HostEnv,
    Target, TargetDesc,
};

/// The x86-64 code generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct X64Backend;

impl Backend for X64Backend {
    fn target(&self) -> Target {
        Target::X64
    }

    fn desc(&self) -> &'static TargetDesc {
        &abi::DESC
    }

    fn compile_into_with(
        &self,
        stub: &CheckedStub,
        env: &HostEnv,
        options: &CompileOptions,
        out: &mut CompiledStub,
        scratch: &mut CompileScratch,
    ) -> Result<(), CodegenError> {
        out.target = Target::X64;
        lil_codegen::drive::compile(
            stub,
            &abi::DESC,
            env,
            out,
            scratch,
            |plan| Ok(emit::Scratch::of(plan)?),
            |plan, tables, regs, buffer, unwind| {
                emit::Emitter::new(stub, env, plan, tables, regs, *options, buffer, unwind)
            },
        )
    }
}

//! The AArch64 backend: `CheckedStub` → position-independent machine code.
//!
//! Same layout as the x86-64 backend: the register roles and AAPCS64 are
//! data ([`abi`]), the frame plan and the emission driver come from
//! `lil-codegen`, and this crate chooses instructions (`emit` for the
//! machinery, `inst` for one function per LIL instruction). Calls and
//! 64-bit immediates go through `movz`/`movk` and `blr`, so the code reaches
//! any address; offsets that do not encode go through a scratch register.
//!
//! ```
//! use lil_codegen::{Backend, HostEnv};
//! let stub = lil_check::assert_valid("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;");
//! let code = lil_codegen_arm64::Arm64Backend.compile(&stub, &HostEnv::default())?;
//! assert_eq!(code.code.len() % 4, 0);
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

/// The AArch64 code generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Arm64Backend;

impl Backend for Arm64Backend {
    fn target(&self) -> Target {
        Target::Arm64
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
        out.target = Target::Arm64;
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

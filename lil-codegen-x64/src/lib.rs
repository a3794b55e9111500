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
    Backend, CheckedStub, CodegenError, CompileOptions, CompiledStub, HostEnv, Target, TargetDesc,
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

    fn compile_into(
        &self,
        stub: &CheckedStub,
        env: &HostEnv,
        options: &CompileOptions,
        out: &mut CompiledStub,
    ) -> Result<(), CodegenError> {
        out.target = Target::X64;
        // Borrowed from the `Result` rather than moved out of it: the plan
        // is about a kilobyte.
        let plan = lil_codegen::FramePlan::new(stub, &abi::DESC, env);
        let planned = plan
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|plan| Ok((plan, emit::Scratch::of(plan)?)));
        let (plan, scratch) = match planned {
            Ok(planned) => planned,
            Err(err) => {
                out.clear();
                return Err(err);
            }
        };
        let mut e = emit::Emitter::new(stub, env, plan, scratch, *options, out);
        lil_codegen::drive::run(&mut e, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lil_codegen::ThreadPointer;

    /// One `CompiledStub` reused across compiles, an error among them,
    /// gets what `compile_with` returns each time, in the same code
    /// buffer once it is large enough.
    #[test]
    fn compile_into_reuses_and_matches_compile_with() {
        let big = lil_check::assert_valid(
            "entry 0:managed:g4,pint:ref; locals 2; l0 = ts; ld l1, [l0+8:ref];
             jc l1 = 0, slow; r = l1; ret; :slow; push_m2n 0; in2out platform:ref;
             call 0x1000; pop_m2n; ret;",
        );
        let small = lil_check::assert_valid("entry 0:platform:g8,g8:g8; r = i0 + i1; ret;");
        let uses_ts = lil_check::assert_valid("entry 0:platform::pint; r = ts; ret;");
        let env = HostEnv::default();
        // Register 0 is taken by LIL on both targets (return value or
        // first argument).
        let clashing = HostEnv::new(ThreadPointer::Register(0), 8);
        let options = CompileOptions::default();
        let mut out = CompiledStub::new(Target::X64);
        X64Backend
            .compile_into(&big, &env, &options, &mut out)
            .unwrap();
        let buffer = out.code.as_ptr();
        let mut errors = 0;
        for (stub, env) in [
            (&small, &env),
            (&uses_ts, &clashing),
            (&big, &env),
            (&small, &env),
        ] {
            let want = X64Backend.compile_with(stub, env, &options);
            let got = X64Backend.compile_into(stub, env, &options, &mut out);
            match want {
                Ok(want) => assert_eq!((got, &out), (Ok(()), &want)),
                Err(err) => {
                    errors += 1;
                    assert_eq!(got, Err(err));
                    assert_eq!(out, CompiledStub::new(X64Backend.target()));
                }
            }
            assert_eq!(out.code.as_ptr(), buffer, "the code buffer is reused");
        }
        assert_eq!(errors, 1, "the clashing register is refused");
    }
}

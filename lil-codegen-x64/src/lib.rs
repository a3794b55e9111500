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
        // Planned in place, where the emitter reads it: the plan is about
        // a kilobyte, which returning it would copy.
        let mut plan = lil_codegen::FramePlan::empty(&abi::DESC);
        let planned = plan
            .plan(stub, &abi::DESC, env)
            .and_then(|()| Ok(emit::Scratch::of(&plan)?));
        let scratch = match planned {
            Ok(scratch) => scratch,
            Err(err) => {
                out.clear();
                return Err(err);
            }
        };
        let mut e = emit::Emitter::new(stub, env, &plan, scratch, *options, out);
        lil_codegen::drive::run(&mut e, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lil_codegen::FramePlan;

    /// What an emitter reads of a plan for `stub`, as text.
    fn view(plan: &FramePlan, stub: &CheckedStub) -> String {
        let n = stub.stub().body.len();
        let per_inst: Vec<_> = (0..n)
            .map(|i| {
                (
                    plan.framed_before(i),
                    plan.requires_frame(i),
                    plan.liveness.ret_after(i),
                    plan.liveness.local_after(i, 0),
                    plan.alloc_address(i, 0),
                    plan.alloc_address(i, 1),
                )
            })
            .collect();
        let blocks: Vec<_> = (0..stub.blocks().len())
            .map(|b| plan.block_framed_in(b))
            .collect();
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {} {:?} {} {:?} {} {:?} {:?} {:?} {:?} {:?}",
            plan.entry_cc,
            plan.inputs,
            plan.input_homes,
            plan.arbitrary_saves,
            plan.locals_gp,
            plan.locals_fp,
            plan.scratch_gp,
            plan.scratch_fp,
            plan.saved,
            plan.helper_saves,
            plan.frame_size,
            plan.alloc_offset,
            plan.m2n_offset,
            plan.out_area,
            plan.ts_register,
            plan.std_places_saved,
            (plan.ret_gp, plan.ret_fp),
            plan.borrowed,
            per_inst,
            blocks,
            plan.has_frame(),
        )
    }

    /// A plan reused for one stub after another holds what a fresh plan
    /// of each does.
    #[test]
    fn a_reused_plan_equals_a_fresh_one() {
        let stubs = [
            "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;",
            "entry 0:platform:g8,g8:g8; locals 2; alloc l0, 24; alloc l1, 8; \
             st [l0+16:g8], i0; st [l1+0:g8], i1; st [l0+0:g8], 0:g8; \
             ld r, [l0+16:g8]; ld l0, [l1+0:g8]; r = r - l0; ret;",
            "entry 0:platform:g8,g8:g8; locals 2; l0 = i0; l1 = i1; jc l0 < l1, yes; \
             r = l0; ret; :yes; r = l1; ret;",
            "entry 0:platform:g1,g2,g4,g1:pint; locals 2; l0 = sx1 i0; l1 = zx2 i1; \
             l0 = l0 * l1; l1 = sx4 i2; l0 = l0 - l1; l1 = zx1 i3; l1 = l1 << 7; \
             r = l0 ^ l1; ret;",
        ]
        .map(lil_check::assert_valid);
        let env = HostEnv::default();
        let mut reused = FramePlan::empty(&abi::DESC);
        for stub in stubs.iter().chain(stubs.iter().rev()) {
            reused.plan(stub, &abi::DESC, &env).unwrap();
            let fresh = FramePlan::new(stub, &abi::DESC, &env).unwrap();
            assert_eq!(view(&reused, stub), view(&fresh, stub));
        }
    }
}

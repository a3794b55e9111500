//! Compile-me stubs (paper §3.2.1): a method that was never called has, as
//! its code, a tiny per-method stub that puts the method in standard place
//! `sp0` and tail-calls one generic stub. The generic stub, which works
//! for any signature (`arbitrary`), asks the JIT to compile the method
//! under an M2N frame and tail-calls the result with the caller's arguments
//! still in place.

use lil_codegen::m2n::frame_type;
use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `1:managed:arbitrary`: compile the method in `sp0` and tail-call its
/// code; a compilation failure (a pending exception) is rethrown.
pub fn compile_me_generic(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let compilation = frame_type::COMPILATION;
    let jit_compile = vm.helpers.jit_compile;
    let pending = vm.thread.pending_exception;
    let rethrow = vm.helpers.rethrow;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 1:managed:arbitrary;        // sp0: the method
         push_m2n 0, {compilation};
         m2n_save_all;                     // the JIT may throw
         out platform:pint:pint;
         o0 = sp0;
         call {jit_compile};
         locals 2;
         l0 = r;                           // the method's code
         l1 = ts;
         ld l1, [l1+{pending}:ref];
         jc l1 != 0, failed;
         pop_m2n;
         tailcall l0;                      // the caller's arguments are untouched
         :failed;
         out platform::void;
         call.noret {rethrow};"
    )?)
}

/// `0:managed:arbitrary`: the compile-me stub of one method.
pub fn compile_me(vm: &VmLayout, method: u64) -> Result<CheckedStub, GenError> {
    let generic = vm.helpers.compile_me_generic;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:arbitrary;
         std_places 1;
         sp0 = {method};
         tailcall {generic};"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn compile_me_stubs_check_and_compile() {
        let vm = VmLayout::example();
        let generic = compile_me_generic(&vm).unwrap();
        compiles(&generic);
        assert_eq!(generic.summary().entry_std_places, 1);
        let specific = compile_me(&vm, 0xABCD_0000).unwrap();
        compiles(&specific);
        assert!(specific.summary().tail_calls && !specific.summary().calls);
    }
}

//! Throwing exceptions: `throw` of an exception object, the lazy throw
//! that creates the exception from its class (what type checks and
//! allocation stubs jump to), and the per-class stubs that name the class.
//!
//! Each throw pushes an M2N frame and records every register the unwinder
//! needs (`m2n_save_all`) before calling the VM, which does not return.

use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `managed:ref:void`: throw this exception object (the VM throws
/// `NullPointerException` for null).
pub fn throw(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let throw = vm.helpers.throw;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:void;         // (exception)
         push_m2n 0;
         m2n_save_all;
         out platform:ref:void;
         o0 = i0;
         call.noret {throw};"
    )?)
}

/// `1:managed:arbitrary`: throw a new exception of the class in `sp0`.
/// Other stubs reach it by `tailcall` with their own arguments in place.
pub fn throw_lazy(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let throw_lazy = vm.helpers.throw_lazy;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 1:managed:arbitrary;        // sp0: the exception class
         push_m2n 0;
         m2n_save_all;
         out platform:pint:void;
         o0 = sp0;
         call.noret {throw_lazy};"
    )?)
}

/// `0:managed:arbitrary`: throw a new exception of one class.
pub fn throw_class(vm: &VmLayout, exception_class: u64) -> Result<CheckedStub, GenError> {
    let throw_lazy = vm.helpers.throw_lazy_stub;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:arbitrary;
         std_places 1;
         sp0 = {exception_class};
         tailcall {throw_lazy};"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn throw_stubs_check_and_compile() {
        let vm = VmLayout::example();
        for stub in [
            throw(&vm).unwrap(),
            throw_lazy(&vm).unwrap(),
            throw_class(&vm, vm.exceptions.class_cast).unwrap(),
        ] {
            compiles(&stub);
            assert!(!stub.summary().returns, "a throw never returns");
        }
    }
}

//! The class-initialisation check JIT code calls before a static access:
//! an initialised class costs a load and a compare; otherwise the VM runs
//! the initialiser under an M2N frame and a failure is rethrown.

use lil_codegen::m2n::frame_type;
use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `managed:pint:void`: `(class)`: initialise the class unless it is.
pub fn class_init_check(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let state = vm.class.init_state;
    let initialized = vm.class.initialized;
    let frame = frame_type::JNI | frame_type::POPABLE;
    let initialize = vm.helpers.class_initialize;
    let pending = vm.thread.pending_exception;
    let rethrow = vm.helpers.rethrow;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:pint:void;        // (class)
         locals 1;
         ld l0, [i0+{state}:g4, acquire];  // pairs with the initialising thread's release
         jc l0 != {initialized}, initialize;
         ret;
         :initialize;
         push_m2n 0, {frame};
         m2n_save_all;
         out platform:pint:void;
         o0 = i0;
         call {initialize};
         l0 = ts;
         ld l0, [l0+{pending}:ref];
         jc l0 != 0, failed;
         pop_m2n;
         ret;
         :failed;
         out platform::void;
         call.noret {rethrow};"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn class_init_check_checks_and_compiles() {
        compiles(&class_init_check(&VmLayout::example()).unwrap());
    }
}

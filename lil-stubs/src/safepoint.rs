//! The safepoint poll JIT code places in loops and method entries: one
//! load and a branch while the VM asks nothing; when it asks, the thread
//! stops under an M2N frame so the GC can walk its stack.

use lil_codegen::m2n::frame_type;
use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `managed::void`: poll the thread's safepoint request.
pub fn safepoint_poll(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let request = vm.thread.safepoint_request;
    let frame = frame_type::SAFE_POINT;
    let stop = vm.helpers.gc_safepoint;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed::void;
         locals 1;
         l0 = ts;
         ld l0, [l0+{request}:g4, acquire];
         jc l0 != 0, stop;
         ret;
         :stop;
         push_m2n 0, {frame};
         m2n_save_all;                     // the GC may read and update every register
         out platform::void;
         call {stop};
         pop_m2n;
         ret;"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn safepoint_poll_checks_and_compiles() {
        compiles(&safepoint_poll(&VmLayout::example()).unwrap());
    }
}

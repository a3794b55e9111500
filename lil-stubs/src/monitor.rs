//! Monitor enter and exit with thin locks (see [`crate::LockLayout`]).
//!
//! Entering an unlocked object is one `cas` of the lock word from 0 to the
//! thread's lock id; re-entering a lock the thread holds adds one to the
//! count in the low bits. Everything else (another owner, an inflated
//! monitor, a saturated count) goes to the VM under an M2N frame, since the
//! thread may block there and the GC may walk its stack meanwhile.

use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `managed:ref:void`: enter the object's monitor.
pub fn monitor_enter(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let lock_id = vm.thread.lock_id;
    let word = vm.object.lock_word;
    let limit = vm.lock.recursion_limit - 1;
    let slow = vm.helpers.monitor_enter_slow;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:void;         // (object)
         locals 3;
         l0 = ts;
         ld l0, [l0+{lock_id}:pint];
         cas [i0+{word}:pint] = 0, l0, held;   // unlocked: take it
         ret;
         :held;
         ld l1, [i0+{word}:pint];
         l2 = l1 ^ l0;                     // our own thin lock leaves only the count
         jc l2 >=u {limit}, slow;
         l1 = l1 + 1;                      // re-entered
         st [i0+{word}:pint], l1;
         ret;
         :slow;                            // contended, inflated or saturated
         push_m2n 0;
         out platform:ref:void;
         o0 = i0;
         call {slow};
         pop_m2n;
         ret;"
    )?)
}

/// `managed:ref:void`: exit the object's monitor (the VM throws
/// `IllegalMonitorStateException` if the thread does not hold it).
pub fn monitor_exit(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let lock_id = vm.thread.lock_id;
    let word = vm.object.lock_word;
    let limit = vm.lock.recursion_limit;
    let slow = vm.helpers.monitor_exit_slow;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:void;         // (object)
         locals 3;
         l0 = ts;
         ld l0, [l0+{lock_id}:pint];
         ld l1, [i0+{word}:pint];
         jc l1 != l0, nested;
         st [i0+{word}:pint, release], 0;  // entered once: unlock
         ret;
         :nested;
         l2 = l1 ^ l0;
         jc l2 >=u {limit}, slow;          // not our thin lock
         l1 = l1 - 1;
         st [i0+{word}:pint], l1;
         ret;
         :slow;
         push_m2n 0;
         out platform:ref:void;
         o0 = i0;
         call {slow};
         pop_m2n;
         ret;"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn monitor_stubs_check_and_compile() {
        let vm = VmLayout::example();
        compiles(&monitor_enter(&vm).unwrap());
        compiles(&monitor_exit(&vm).unwrap());
    }
}

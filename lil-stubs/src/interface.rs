//! Interface vtable lookup: `invokeinterface` needs the method table that
//! the object's class provides for an interface. The vtable points at an
//! interface table of `{interface, methods}` entries; the stub walks it.

use lil_macros::lil_parse;

use crate::{CheckedStub, GenError, VmLayout, checked};

/// `managed:ref,pint:pint`: `(object, interface) -> method table`; throws
/// `NullPointerException` for a null object and
/// `IncompatibleClassChangeError` when the class does not implement the
/// interface.
pub fn interface_vtable(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let vtable = vm.object.vtable;
    let v = &vm.vtable;
    let (itable, interface, methods, entry) = (
        v.itable,
        v.itable_interface,
        v.itable_methods,
        v.itable_entry_size,
    );
    let npe = vm.exceptions.null_pointer;
    let icce = vm.exceptions.incompatible_class_change;
    let throw_lazy = vm.helpers.throw_lazy_stub;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref,pint:pint;    // (object, interface) -> methods
         locals 2;
         jc i0 = 0, null;
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+{itable}:pint];
         :next;
         ld l1, [l0+{interface}:pint];
         jc l1 = i1, found;
         jc l1 = 0, missing;               // the end of the table
         l0 = l0 + {entry};
         j next;
         :found;
         ld r, [l0+{methods}:pint];
         ret;
         :missing;
         std_places 1;
         sp0 = {icce};                     // IncompatibleClassChangeError
         tailcall {throw_lazy};
         :null;
         std_places 1;
         sp0 = {npe};
         tailcall {throw_lazy};"
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn interface_vtable_checks_and_compiles() {
        compiles(&interface_vtable(&VmLayout::example()).unwrap());
    }
}

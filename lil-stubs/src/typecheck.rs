//! Type checks: `checkcast`, `instanceof` and `aastore`, in DRLVM's depth +
//! superclass-table scheme.
//!
//! Every vtable holds its class's ancestors by depth, so "is the object's
//! class a subclass of C?" is one load and one compare: the entry at C's
//! depth must be C. That holds for classes no deeper than the table; for
//! interfaces (and too-deep classes) the class's `fast_instanceof` flag is 0
//! and the stub asks the VM (`is_subtype`).
//!
//! The general stubs take the class as an argument and read its depth and
//! flag; the per-class ones have the table slot and the class address built
//! in, which is what a JIT generates for each class it type-tests.

use lil_macros::lil_parse;

use lil_syntax::{Stub, SyntaxErrors};

use crate::{CheckedStub, ClassInfo, GenError, VmLayout, WORD, checked};

/// `managed:ref,pint:ref`: `(object, class) -> object` if the object is null
/// or an instance of the class; otherwise throws `ClassCastException`.
pub fn checkcast(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let Offsets {
        flag,
        depth,
        vtable,
        table_before,
        vtable_class,
    } = Offsets::of(vm);
    let is_subtype = vm.helpers.is_subtype;
    let cce = vm.exceptions.class_cast;
    let throw_lazy = vm.helpers.throw_lazy_stub;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref,pint:ref;     // (object, class) -> object
         locals 2;
         jc i0 = 0, pass;                  // null passes every checkcast
         ld l0, [i1+{flag}:g4];
         jc l0 = 0, slow;                  // an interface: ask the VM
         ld l1, [i1+{depth}:g4], zx;
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+l1*8+{table_before}:pint];   // the object's ancestor at the class's depth
         jc l0 != i1, fail;
         :pass;
         r = i0;
         ret;
         :slow;
         out platform:pint,pint:g4;
         ld l0, [i0+{vtable}:pint];
         ld o0, [l0+{vtable_class}:pint];
         o1 = i1;
         call {is_subtype};
         jc r != 0, pass;
         :fail;
         std_places 1;
         sp0 = {cce};                      // ClassCastException
         tailcall {throw_lazy};"
    )?)
}

/// `managed:ref,pint:g4`: `(object, class) -> 1` if the object is an
/// instance of the class, `0` otherwise (and for null).
pub fn instanceof(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let Offsets {
        flag,
        depth,
        vtable,
        table_before,
        vtable_class,
    } = Offsets::of(vm);
    let is_subtype = vm.helpers.is_subtype;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref,pint:g4;      // (object, class) -> 0 or 1
         locals 2;
         jc i0 = 0, no;
         ld l0, [i1+{flag}:g4];
         jc l0 = 0, slow;
         ld l1, [i1+{depth}:g4], zx;
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+l1*8+{table_before}:pint];
         jc l0 != i1, no;
         r = 1;
         ret;
         :slow;
         out platform:pint,pint:g4;
         ld l0, [i0+{vtable}:pint];
         ld o0, [l0+{vtable_class}:pint];
         o1 = i1;
         call {is_subtype};
         ret;
         :no;
         r = 0;
         ret;"
    )?)
}

/// `managed:ref,g4,ref:void`: `(array, index, value)`: store a reference
/// into an array of references after the null, bounds and array-store
/// checks (`NullPointerException`, `ArrayIndexOutOfBoundsException`,
/// `ArrayStoreException`).
pub fn aastore(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let Offsets {
        flag,
        depth,
        vtable,
        table_before,
        vtable_class,
    } = Offsets::of(vm);
    let (length, data) = (vm.object.array_length, vm.object.array_data);
    let element_class = vm.class.element_class;
    let is_subtype = vm.helpers.is_subtype;
    let ex = &vm.exceptions;
    let (npe, aioobe, ase) = (ex.null_pointer, ex.index_out_of_bounds, ex.array_store);
    let throw_lazy = vm.helpers.throw_lazy_stub;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref,g4,ref:void;  // (array, index, value)
         locals 4;
         jc i0 = 0, null_array;
         ld l3, [i0+{length}:g4];
         jc i1 >=u l3, out_of_bounds;      // a negative index is a large unsigned one
         jc i2 = 0, store;                 // null fits every array
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+{vtable_class}:pint];
         ld l0, [l0+{element_class}:pint]; // the array's element class
         ld l3, [l0+{flag}:g4];
         jc l3 = 0, slow;
         ld l1, [l0+{depth}:g4], zx;
         ld l2, [i2+{vtable}:pint];
         ld l2, [l2+l1*8+{table_before}:pint];
         jc l2 != l0, fail;
         :store;
         l1 = zx4 i1;
         st [i0+l1*8+{data}:ref], i2;
         ret;
         :slow;
         out platform:pint,pint:g4;
         ld l2, [i2+{vtable}:pint];
         ld o0, [l2+{vtable_class}:pint];
         o1 = l0;
         call {is_subtype};
         jc r != 0, store;
         :fail;
         std_places 1;
         sp0 = {ase};                      // ArrayStoreException
         tailcall {throw_lazy};
         :null_array;
         std_places 1;
         sp0 = {npe};                      // NullPointerException
         tailcall {throw_lazy};
         :out_of_bounds;
         std_places 1;
         sp0 = {aioobe};                   // ArrayIndexOutOfBoundsException
         tailcall {throw_lazy};"
    )?)
}

/// `managed:ref:ref`: `checkcast` against one class, built in.
pub fn checkcast_for_class(vm: &VmLayout, class: &ClassInfo) -> Result<CheckedStub, GenError> {
    checked(match table_slot(vm, class) {
        Some(slot) => checkcast_table(vm, slot, class.class as i64)?,
        None => checkcast_interface(vm, class.class as i64)?,
    })
}

/// The per-class `checkcast` of a class with a superclass-table slot.
pub(crate) fn checkcast_table(vm: &VmLayout, slot: i64, target: i64) -> Result<Stub, SyntaxErrors> {
    let vtable = vm.object.vtable;
    let cce = vm.exceptions.class_cast;
    let throw_lazy = vm.helpers.throw_lazy_stub;
    lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:ref;      // (object) -> object
         locals 1;
         jc i0 = 0, pass;
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+{slot}:pint];      // the ancestor at the class's depth
         jc l0 != {target}, fail;
         :pass;
         r = i0;
         ret;
         :fail;
         std_places 1;
         sp0 = {cce};
         tailcall {throw_lazy};"
    )
}

/// The per-class `checkcast` of an interface (or a too-deep class): asks the VM.
pub(crate) fn checkcast_interface(vm: &VmLayout, target: i64) -> Result<Stub, SyntaxErrors> {
    let vtable = vm.object.vtable;
    let cce = vm.exceptions.class_cast;
    let throw_lazy = vm.helpers.throw_lazy_stub;
    let vtable_class = vm.vtable.class;
    let is_subtype = vm.helpers.is_subtype;
    lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:ref;          // (object) -> object; an interface
         locals 1;
         jc i0 = 0, pass;
         out platform:pint,pint:g4;
         ld l0, [i0+{vtable}:pint];
         ld o0, [l0+{vtable_class}:pint];
         o1 = {target};
         call {is_subtype};
         jc r = 0, fail;
         :pass;
         r = i0;
         ret;
         :fail;
         std_places 1;
         sp0 = {cce};
         tailcall {throw_lazy};"
    )
}

/// `managed:ref:g4`: `instanceof` against one class, built in. This is the
/// generator a JIT calls once per class; it builds the stub without parsing.
pub fn instanceof_for_class(vm: &VmLayout, class: &ClassInfo) -> Result<CheckedStub, GenError> {
    checked(match table_slot(vm, class) {
        Some(slot) => instanceof_table(vm, slot, class.class as i64)?,
        None => instanceof_interface(vm, class.class as i64)?,
    })
}

/// The per-class `instanceof` of a class with a superclass-table slot.
pub(crate) fn instanceof_table(
    vm: &VmLayout,
    slot: i64,
    target: i64,
) -> Result<Stub, SyntaxErrors> {
    let vtable = vm.object.vtable;
    lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:g4;       // (object) -> 0 or 1
         locals 1;
         jc i0 = 0, no;
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+{slot}:pint];
         jc l0 != {target}, no;
         r = 1;
         ret;
         :no;
         r = 0;
         ret;"
    )
}

/// The per-class `instanceof` of an interface (or a too-deep class): asks the VM.
pub(crate) fn instanceof_interface(vm: &VmLayout, target: i64) -> Result<Stub, SyntaxErrors> {
    let vtable = vm.object.vtable;
    let vtable_class = vm.vtable.class;
    let is_subtype = vm.helpers.is_subtype;
    lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref:g4;           // (object) -> 0 or 1; an interface
         locals 1;
         jc i0 = 0, no;
         out platform:pint,pint:g4;
         ld l0, [i0+{vtable}:pint];
         ld o0, [l0+{vtable_class}:pint];
         o1 = {target};
         call {is_subtype};
         ret;
         :no;
         r = 0;
         ret;"
    )
}

/// `managed:ref,g4,ref:void`: `aastore` into arrays whose element class is
/// `element`. An array of another element class (a covariant subtype array)
/// is handed to the general stub ([`crate::Helpers::aastore`]) by
/// `tailcall`, with the arguments untouched.
pub fn aastore_for_class(vm: &VmLayout, element: &ClassInfo) -> Result<CheckedStub, GenError> {
    let vtable = vm.object.vtable;
    let vtable_class = vm.vtable.class;
    let element_class = vm.class.element_class;
    let (length, data) = (vm.object.array_length, vm.object.array_data);
    let target = element.class;
    let general = vm.helpers.aastore;
    let ex = &vm.exceptions;
    let (aioobe, ase) = (ex.index_out_of_bounds, ex.array_store);
    let throw_lazy = vm.helpers.throw_lazy_stub;
    let Some(slot) = table_slot(vm, element) else {
        // An interface element type: nothing to specialise but the guard.
        return checked(lil_parse!(
            crate = lil_syntax,
            "entry 0:managed:ref,g4,ref:void;
             tailcall {general};"
        )?);
    };
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:ref,g4,ref:void;  // (array, index, value)
         locals 2;
         jc i0 = 0, general;               // the general stub throws
         ld l0, [i0+{vtable}:pint];
         ld l0, [l0+{vtable_class}:pint];
         ld l0, [l0+{element_class}:pint];
         jc l0 != {target}, general;       // not exactly this array type
         ld l1, [i0+{length}:g4];
         jc i1 >=u l1, out_of_bounds;
         jc i2 = 0, store;
         ld l0, [i2+{vtable}:pint];
         ld l0, [l0+{slot}:pint];
         jc l0 != {target}, fail;
         :store;
         l0 = zx4 i1;
         st [i0+l0*8+{data}:ref], i2;
         ret;
         :general;
         tailcall {general};
         :out_of_bounds;
         std_places 1;
         sp0 = {aioobe};
         tailcall {throw_lazy};
         :fail;
         std_places 1;
         sp0 = {ase};
         tailcall {throw_lazy};"
    )?)
}

/// The offset in a vtable of the superclass-table entry for `class`, or
/// `None` when type tests against it need the VM.
pub(crate) fn table_slot(vm: &VmLayout, class: &ClassInfo) -> Option<i64> {
    (!class.is_interface && class.depth >= 1 && class.depth <= vm.vtable.max_depth)
        .then(|| i64::from(vm.vtable.superclasses) + WORD * (i64::from(class.depth) - 1))
}

/// The offsets the general stubs share.
struct Offsets {
    flag: i32,
    depth: i32,
    vtable: i32,
    /// The superclass table minus one entry: depths start at 1.
    table_before: i64,
    vtable_class: i32,
}

impl Offsets {
    fn of(vm: &VmLayout) -> Offsets {
        Offsets {
            flag: vm.class.fast_instanceof,
            depth: vm.class.depth,
            vtable: vm.object.vtable,
            table_before: i64::from(vm.vtable.superclasses) - WORD,
            vtable_class: vm.vtable.class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    fn class(depth: u32, is_interface: bool) -> ClassInfo {
        ClassInfo {
            class: 0x5555_0000_1230,
            depth,
            is_interface,
            vtable: 0,
            instance_size: 16,
        }
    }

    #[test]
    fn general_type_checks_check_and_compile() {
        let vm = VmLayout::example();
        compiles(&checkcast(&vm).unwrap());
        compiles(&instanceof(&vm).unwrap());
        compiles(&aastore(&vm).unwrap());
    }

    #[test]
    fn per_class_type_checks_use_the_table_only_for_shallow_classes() {
        let vm = VmLayout::example();
        for (c, uses_table) in [
            (class(3, false), true),
            (class(8, false), true),
            (class(9, false), false),
            (class(2, true), false),
        ] {
            for stub in [
                checkcast_for_class(&vm, &c).unwrap(),
                instanceof_for_class(&vm, &c).unwrap(),
                aastore_for_class(&vm, &c).unwrap(),
            ] {
                compiles(&stub);
                let text = stub.stub().to_string();
                let slot = 16 + 8 * (i64::from(c.depth) - 1);
                assert_eq!(
                    text.contains(&format!("+{slot}:pint]")),
                    uses_table,
                    "{text}"
                );
            }
        }
    }
}

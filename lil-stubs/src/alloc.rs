//! Allocation: objects from the thread-local allocation buffer (the paper's
//! Figure 1), per-class allocation with the size and vtable built in, and
//! arrays with their length checks.
//!
//! All three bump the thread's frontier when the object fits below its
//! limit and otherwise call the VM's allocator under an M2N frame, because
//! the allocator may collect and walk the stack. The allocation buffer is
//! zeroed by the VM, so a fast path only writes the header words that are
//! not zero.

use lil_macros::lil_parse;
use lil_syntax::{Stub, SyntaxErrors};

use crate::{CheckedStub, ClassInfo, GenError, VmLayout, checked};

/// `managed:g4,pint:ref`: allocate an object of `size` bytes (a multiple of
/// the object alignment, header included) with vtable `vtable`.
pub fn new_object(vm: &VmLayout) -> Result<CheckedStub, GenError> {
    let frontier = vm.thread.tlab_frontier;
    let limit = vm.thread.tlab_limit;
    let vtable = vm.object.vtable;
    let gc_alloc = vm.helpers.gc_alloc;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:g4,pint:ref;      // (size, vtable) -> a new object
         locals 3;
         l0 = ts;
         ld r, [l0+{frontier}:ref];        // the object goes at the frontier
         ld l1, [l0+{limit}:pint];
         l2 = zx4 i0;
         l2 = r:pint + l2;                 // the frontier after it
         jc l2 >u l1, slow;
         st [r+{vtable}:pint], i1;
         st [l0+{frontier}:pint], l2;
         ret;
         :slow;                            // the buffer is full
         push_m2n 0;                       // the GC may walk this stack
         in2out platform:ref;
         call {gc_alloc};
         pop_m2n;
         ret;"
    )?)
}

/// `managed::ref`: allocate an instance of one class; its size (rounded up
/// to the object alignment) and vtable are built into the stub.
pub fn new_object_for_class(vm: &VmLayout, class: &ClassInfo) -> Result<CheckedStub, GenError> {
    let size = align_up(u64::from(class.instance_size), vm.object.alignment)?;
    checked(new_object_stub(
        vm,
        size as i64,
        class.vtable as i64,
        size as i64,
    )?)
}

/// The per-class allocation stub for instances of `size` bytes (aligned)
/// with vtable `vtable`; `size32` is the same size, passed to the slow path
/// as a `g4` (a separate hole in a template).
pub(crate) fn new_object_stub(
    vm: &VmLayout,
    size: i64,
    vtable: i64,
    size32: i64,
) -> Result<Stub, SyntaxErrors> {
    let frontier = vm.thread.tlab_frontier;
    let limit = vm.thread.tlab_limit;
    let vtable_offset = vm.object.vtable;
    let gc_alloc = vm.helpers.gc_alloc;
    lil_parse!(
        crate = lil_syntax,
        "entry 0:managed::ref;             // () -> a new instance of the class
         locals 3;
         l0 = ts;
         ld r, [l0+{frontier}:ref];
         ld l1, [l0+{limit}:pint];
         l2 = r:pint + {size};
         jc l2 >u l1, slow;
         st [r+{vtable_offset}:pint], {vtable};
         st [l0+{frontier}:pint], l2;
         ret;
         :slow;
         push_m2n 0;
         out platform:g4,pint:ref;
         o0 = {size32};
         o1 = {vtable};
         call {gc_alloc};
         pop_m2n;
         ret;"
    )
}

/// `managed:g4,pint:ref`: allocate an array of `length` elements of
/// `element_size` bytes (1, 2, 4 or 8) with vtable `vtable`. A negative
/// length throws `NegativeArraySizeException`; a length whose array would
/// exceed [`crate::ObjectLayout::max_array_bytes`] throws `OutOfMemoryError`
/// before any arithmetic can overflow.
pub fn new_array(vm: &VmLayout, element_size: u32) -> Result<CheckedStub, GenError> {
    let shift = match element_size {
        1 => 0,
        2 => 1,
        4 => 2,
        8 => 3,
        other => {
            return Err(GenError::Unsupported(format!(
                "array elements of {other} bytes (1, 2, 4 or 8)"
            )));
        }
    };
    let o = &vm.object;
    let align = u64::from(o.alignment);
    if !align.is_power_of_two() || o.array_data < 0 {
        return Err(GenError::Unsupported(
            "object alignment must be a power of two and the array data offset positive".into(),
        ));
    }
    // Bytes header + length * size must not exceed the limit, and the
    // length fits a non-negative g4.
    let max_length =
        (o.max_array_bytes.saturating_sub(o.array_data as u64) >> shift).min(i32::MAX as u64);
    let data_and_padding = o.array_data as u64 + align - 1;
    let mask = -(align as i64);
    let (frontier, limit) = (vm.thread.tlab_frontier, vm.thread.tlab_limit);
    let (vtable, length) = (o.vtable, o.array_length);
    let gc_alloc_array = vm.helpers.gc_alloc_array;
    let negative = vm.exceptions.negative_array_size;
    let too_big = vm.exceptions.out_of_memory;
    let throw_lazy = vm.helpers.throw_lazy_stub;
    checked(lil_parse!(
        crate = lil_syntax,
        "entry 0:managed:g4,pint:ref;      // (length, vtable) -> a new array
         locals 3;
         jc i0 < 0, negative;
         jc i0 > {max_length}, too_big;
         l0 = zx4 i0;
         l0 = l0 << {shift};               // bytes of elements
         l0 = l0 + {data_and_padding};
         l0 = l0 & {mask};                 // + header, rounded to the alignment
         l1 = ts;
         ld r, [l1+{frontier}:ref];
         ld l2, [l1+{limit}:pint];
         l0 = r:pint + l0;
         jc l0 >u l2, slow;
         st [r+{vtable}:pint], i1;
         st [r+{length}:g4], i0;
         st [l1+{frontier}:pint], l0;
         ret;
         :slow;
         push_m2n 0;
         in2out platform:ref;
         call {gc_alloc_array};
         pop_m2n;
         ret;
         :negative;
         std_places 1;
         sp0 = {negative};                 // NegativeArraySizeException
         tailcall {throw_lazy};
         :too_big;
         std_places 1;
         sp0 = {too_big};                  // OutOfMemoryError
         tailcall {throw_lazy};"
    )?)
}

pub(crate) fn align_up(size: u64, alignment: u32) -> Result<u64, GenError> {
    let align = u64::from(alignment);
    if !align.is_power_of_two() {
        return Err(GenError::Unsupported(format!(
            "object alignment {alignment} is not a power of two"
        )));
    }
    let size = size.div_ceil(align) * align;
    if size > u64::from(u32::MAX) {
        return Err(GenError::Unsupported(format!(
            "an instance of {size} bytes"
        )));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::compiles;

    #[test]
    fn allocation_stubs_check_and_compile() {
        let vm = VmLayout::example();
        compiles(&new_object(&vm).unwrap());
        let class = ClassInfo {
            class: 0x1000,
            depth: 2,
            is_interface: false,
            vtable: 0x2000,
            instance_size: 20,
        };
        let stub = new_object_for_class(&vm, &class).unwrap();
        compiles(&stub);
        assert!(stub.stub().to_string().contains("+ 24;"), "{}", stub.stub());
        for size in [1, 2, 4, 8] {
            compiles(&new_array(&vm, size).unwrap());
        }
        assert!(matches!(new_array(&vm, 3), Err(GenError::Unsupported(_))));
    }
}

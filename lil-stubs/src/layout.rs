//! The host-VM description every generator takes.
//!
//! A generator never hard-codes a VM: where the thread keeps its allocation
//! buffer, how an object header looks, where a vtable keeps its superclass
//! table, which helper to call on a slow path — all of it is one
//! [`VmLayout`] value. Offsets are byte offsets from the start of the
//! structure named; helper addresses are C-ABI (`platform`) functions
//! unless the field says the address is a LIL stub.
//!
//! Invariant: generators only read a layout; a layout with an address of 0
//! for a helper a generator needs produces a stub that calls address 0, so
//! a host fills every helper it uses before generating (see
//! [`Helpers`]).

/// Offsets in the per-thread structure `ts` points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadLayout {
    /// `pint`: this thread's thin-lock id, already shifted into the lock
    /// word's owner bits (see [`LockLayout`]).
    pub lock_id: i32,
    /// `pint`: the head of the thread's M2N list (the backend's
    /// `HostEnv::m2n_list_offset`).
    pub m2n_list: i32,
    /// `pint`: the thread-local allocation buffer's frontier (Figure 1's `fpo`).
    pub tlab_frontier: i32,
    /// `pint`: the allocation buffer's limit (Figure 1's `lpo`).
    pub tlab_limit: i32,
    /// `ref`: the pending exception, 0 for none (Figure 3's `ceo_offset`).
    pub pending_exception: i32,
    /// `pint`: the thread's `JNIEnv*`, passed as the first argument of
    /// every JNI native method.
    pub jni_env: i32,
    /// `g4`: non-zero when the VM asks the thread to stop at a safepoint.
    pub safepoint_request: i32,
}

/// The object header and array layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectLayout {
    /// `pint`: the object's vtable.
    pub vtable: i32,
    /// `pint`: the lock word (see [`LockLayout`]).
    pub lock_word: i32,
    /// `g4`: an array's length.
    pub array_length: i32,
    /// Where an array's element 0 starts.
    pub array_data: i32,
    /// Every object's size is a multiple of this (a power of two, at least 8).
    pub alignment: u32,
    /// The largest array, in bytes including its header, the allocator
    /// accepts; longer arrays throw `OutOfMemoryError` before allocating.
    pub max_array_bytes: u64,
}

/// The vtable: class pointer, interface table, DRLVM's superclass table,
/// then the method slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VtableLayout {
    /// `pint`: the class the vtable belongs to.
    pub class: i32,
    /// `pint`: the interface table, an array of [`VtableLayout::itable_entry_size`]-byte
    /// entries `{interface: pint, methods: pint}` ended by an entry whose
    /// interface is 0.
    pub itable: i32,
    /// Offset of the interface in an interface-table entry.
    pub itable_interface: i32,
    /// Offset of the method table in an interface-table entry.
    pub itable_methods: i32,
    /// Size of an interface-table entry.
    pub itable_entry_size: i32,
    /// `pint[max_depth]`: the superclass table. Entry `d - 1` is the class's
    /// ancestor at depth `d` (`java.lang.Object` has depth 1), the class
    /// itself at its own depth; entries past the class's depth are 0.
    pub superclasses: i32,
    /// Number of entries in the superclass table.
    pub max_depth: u32,
    /// `pint`: method slot 0; slot `k` is at `methods + 8k`.
    pub methods: i32,
}

/// Fields of a class structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLayout {
    /// `g4`: the class's depth in the hierarchy (`java.lang.Object`: 1).
    pub depth: i32,
    /// `g4`: non-zero when a type test against this class may use the
    /// superclass table: a class (not an interface) no deeper than
    /// [`VtableLayout::max_depth`].
    pub fast_instanceof: i32,
    /// `g4`: the initialisation state; [`ClassLayout::initialized`] once
    /// the class is initialised.
    pub init_state: i32,
    /// The value of `init_state` of an initialised class.
    pub initialized: u32,
    /// `pint`: an array class's element class, 0 for other classes.
    pub element_class: i32,
    /// `ref`: the class's `java.lang.Class` object (what a static native
    /// method receives as its class handle).
    pub class_object: i32,
}

/// Local object handles, as DRLVM's `ObjectHandlesNew`: a block on the
/// stub's stack that the M2N frame points at (`handles = l0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandleLayout {
    /// `pint`: the next block (0: the last).
    pub next: i32,
    /// `g4`: the number of handles in the block.
    pub count: i32,
    /// `ref`: handle 0; handle `k` is at `refs + 8k`. A JNI handle is the
    /// address of its slot.
    pub refs: i32,
}

/// The thin-lock encoding of the lock word.
///
/// - `0`: unlocked;
/// - `lock_id | n` with `n < recursion_limit`: held by the thread whose
///   [`ThreadLayout::lock_id`] is `lock_id`, entered `n + 1` times;
/// - anything else (another owner, an inflated monitor, a saturated count):
///   the slow path's business.
///
/// The stubs test ownership with one `xor`: `(word ^ lock_id) <u limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockLayout {
    /// One more than the largest recursion count a thin lock holds; lock ids
    /// are multiples of it.
    pub recursion_limit: u32,
}

/// Addresses of the VM's runtime helpers and of the shared stubs other
/// stubs jump to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Helpers {
    /// `platform:g4,pint:ref`: allocate `size` bytes with this vtable (may
    /// collect; walks the stack).
    pub gc_alloc: u64,
    /// `platform:g4,pint:ref`: allocate an array of `length` elements with
    /// this vtable.
    pub gc_alloc_array: u64,
    /// `platform:pint,pint:g4`: whether class `sub` is `sup` or a subtype of
    /// it (interfaces included).
    pub is_subtype: u64,
    /// `platform:ref:void`: throw this exception object (a null one throws
    /// `NullPointerException`); does not return.
    pub throw: u64,
    /// `platform:pint:void`: create an exception of this class and throw
    /// it; does not return.
    pub throw_lazy: u64,
    /// `platform::void`: throw the thread's pending exception; does not return.
    pub rethrow: u64,
    /// `platform:ref:void`: the contended or recursive-overflow monitor enter.
    pub monitor_enter_slow: u64,
    /// `platform:ref:void`: monitor exit of an inflated or not-owned lock
    /// (throws `IllegalMonitorStateException` if not owned).
    pub monitor_exit_slow: u64,
    /// `platform:pint:void`: run a class's initialiser (may leave a pending
    /// exception).
    pub class_initialize: u64,
    /// `platform:pint:pint`: compile a method, return its code (0 with a
    /// pending exception on failure).
    pub jit_compile: u64,
    /// `platform::void`: stop at a safepoint (the GC may walk the stack).
    pub gc_safepoint: u64,
    /// `platform::void`: native code starts: the GC may run concurrently.
    pub gc_enable: u64,
    /// `platform::void`: native code returns: the GC may not run.
    pub gc_disable: u64,
    /// LIL stub `entry 1:managed:arbitrary`: throw a new exception of the
    /// class in `sp0` (generated by [`crate::throw::throw_lazy`]).
    pub throw_lazy_stub: u64,
    /// LIL stub `entry 1:managed:arbitrary`: compile the method in `sp0` and
    /// tail-call it (generated by [`crate::compile_me::compile_me_generic`]).
    pub compile_me_generic: u64,
    /// LIL stub `managed:ref:void`: monitor enter (generated by
    /// [`crate::monitor::monitor_enter`]); synchronized JNI wrappers call it.
    pub monitor_enter: u64,
    /// LIL stub `managed:ref:void`: monitor exit (generated by
    /// [`crate::monitor::monitor_exit`]).
    pub monitor_exit: u64,
    /// LIL stub `managed:ref,g4,ref:void`: the general `aastore` (generated by
    /// [`crate::typecheck::aastore`]); the per-class ones fall back to it.
    pub aastore: u64,
}

/// The exception classes stubs throw lazily (addresses of class structures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExceptionClasses {
    /// `NullPointerException`.
    pub null_pointer: u64,
    /// `ClassCastException`.
    pub class_cast: u64,
    /// `ArrayStoreException`.
    pub array_store: u64,
    /// `ArrayIndexOutOfBoundsException`.
    pub index_out_of_bounds: u64,
    /// `NegativeArraySizeException`.
    pub negative_array_size: u64,
    /// `OutOfMemoryError`.
    pub out_of_memory: u64,
    /// `IncompatibleClassChangeError`.
    pub incompatible_class_change: u64,
}

/// Everything a generator knows about the host VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmLayout {
    /// The thread structure.
    pub thread: ThreadLayout,
    /// Object headers and arrays.
    pub object: ObjectLayout,
    /// Vtables.
    pub vtable: VtableLayout,
    /// Class structures.
    pub class: ClassLayout,
    /// Local object handles.
    pub handles: HandleLayout,
    /// Thin locks.
    pub lock: LockLayout,
    /// Helper and shared-stub addresses.
    pub helpers: Helpers,
    /// Exception classes.
    pub exceptions: ExceptionClasses,
}

impl VmLayout {
    /// A plausible layout with made-up helper addresses, for examples and
    /// for checking generators without a VM. The toy VM (`lil-toyvm`)
    /// uses these offsets with real addresses.
    pub fn example() -> VmLayout {
        let fake = |k: u64| 0x7f00_0000_1000 + 0x100 * k;
        VmLayout {
            thread: ThreadLayout {
                lock_id: 0,
                m2n_list: 8,
                tlab_frontier: 16,
                tlab_limit: 24,
                pending_exception: 32,
                jni_env: 40,
                safepoint_request: 48,
            },
            object: ObjectLayout {
                vtable: 0,
                lock_word: 8,
                array_length: 16,
                array_data: 24,
                alignment: 8,
                max_array_bytes: 1 << 30,
            },
            vtable: VtableLayout {
                class: 0,
                itable: 8,
                itable_interface: 0,
                itable_methods: 8,
                itable_entry_size: 16,
                superclasses: 16,
                max_depth: 8,
                methods: 80,
            },
            class: ClassLayout {
                depth: 8,
                fast_instanceof: 12,
                init_state: 16,
                initialized: 2,
                element_class: 24,
                class_object: 32,
            },
            handles: HandleLayout {
                next: 0,
                count: 8,
                refs: 16,
            },
            lock: LockLayout {
                recursion_limit: 0x100,
            },
            helpers: Helpers {
                gc_alloc: fake(1),
                gc_alloc_array: fake(2),
                is_subtype: fake(3),
                throw: fake(4),
                throw_lazy: fake(5),
                rethrow: fake(6),
                monitor_enter_slow: fake(7),
                monitor_exit_slow: fake(8),
                class_initialize: fake(9),
                jit_compile: fake(10),
                gc_safepoint: fake(11),
                gc_enable: fake(12),
                gc_disable: fake(13),
                throw_lazy_stub: fake(14),
                compile_me_generic: fake(15),
                monitor_enter: fake(16),
                monitor_exit: fake(17),
                aastore: fake(18),
            },
            exceptions: ExceptionClasses {
                null_pointer: fake(40),
                class_cast: fake(41),
                array_store: fake(42),
                index_out_of_bounds: fake(43),
                negative_array_size: fake(44),
                out_of_memory: fake(45),
                incompatible_class_change: fake(46),
            },
        }
    }
}

/// What a per-class generator needs to know about one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    /// Address of the class structure.
    pub class: u64,
    /// Its depth (`java.lang.Object`: 1).
    pub depth: u32,
    /// Whether it is an interface (type tests then ask the VM).
    pub is_interface: bool,
    /// Its vtable (for allocation).
    pub vtable: u64,
    /// Bytes of an instance, header included (for allocation).
    pub instance_size: u32,
}

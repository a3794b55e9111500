//! A minimal VM in this process for running the stubs natively: a thread
//! structure reached through a real TLS slot, an allocation buffer, a class
//! hierarchy, a lockable object, and the helpers the stubs call.
//!
//! Every peer (LIL, hand-written dynasm, Cranelift, rustc) runs against the
//! same [`NativeWorld`], so their fast paths touch the same memory.
//!
//! Invariant: a world belongs to the thread that created it (`ts` is that
//! thread's TLS slot); helpers keep their counters per thread, so tests may
//! run worlds on several threads at once.

use std::cell::Cell;

use lil_codegen::M2nFrame;
use lil_stubs::{ClassInfo, VmLayout};

use crate::stubs::Params;

thread_local! {
    /// The thread pointer `ts` of the current thread: generated code reads it
    /// as `fs:[tls_offset]`.
    pub static TS: Cell<u64> = const { Cell::new(0) };
    /// Calls of `gc_enable` + `gc_disable` on this thread.
    pub static GC_TRANSITIONS: Cell<u64> = const { Cell::new(0) };
    /// Between `gc_enable` and `gc_disable`.
    pub static GC_ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Whether the last native method call ran with the GC enabled (the
    /// wrapper called it between `gc_enable` and `gc_disable`).
    pub static NATIVE_RAN_GC_ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Calls of the slow-path helpers on this thread.
    pub static SLOW_CALLS: Cell<u64> = const { Cell::new(0) };
    /// The method `jit_compile` was last asked for.
    pub static LAST_COMPILED: Cell<u64> = const { Cell::new(0) };
    /// When set, the helpers record the thread's newest M2N frame in
    /// [`LAST_FRAME`] (tests compare the frames the peers push).
    pub static RECORD_FRAMES: Cell<bool> = const { Cell::new(false) };
    /// The newest M2N frame a helper saw, when [`RECORD_FRAMES`] is set.
    pub static LAST_FRAME: Cell<Option<M2nFrame>> = const { Cell::new(None) };
    /// The class and vtable slot the rustc `instanceof` compares (a rustc
    /// function cannot be specialised per class at run time, so it reads them).
    pub static RUST_INSTANCEOF: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// The rustc JNI wrapper's constants: method, class handle, JNIEnv, and
    /// the native method (a VM finds natives at run time, so rustc calls it
    /// through a pointer).
    pub static RUST_JNI: Cell<(u64, u64, u64, u64)> = const { Cell::new((0, 0, 0, 0)) };
}

/// The offset of [`TS`] from the `fs` base, if generated code can read it
/// as `fs:[offset]` (true for a thread-local of an executable).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub fn tls_offset() -> Option<i32> {
    const PROBE: u64 = 0x5a5a_1234_8765_a5a5;
    let cell = TS.with(|c| c.as_ptr() as u64);
    let fs_base: u64;
    // SAFETY: on x86-64 Linux `fs:0` holds the TCB's self pointer, i.e. the
    // fs base; reading it has no side effects.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) fs_base, options(nostack, readonly, preserves_flags))
    };
    let offset = i32::try_from(cell.wrapping_sub(fs_base) as i64).ok()?;
    let saved = TS.with(|c| c.replace(PROBE));
    let seen: u64;
    // SAFETY: `offset` is the distance from the fs base to a live cell of
    // this thread, so the load reads that cell.
    unsafe {
        core::arch::asm!(
            "mov {seen}, qword ptr fs:[{offset}]",
            offset = in(reg) i64::from(offset),
            seen = out(reg) seen,
            options(nostack, readonly, preserves_flags),
        )
    };
    TS.with(|c| c.set(saved));
    (seen == PROBE).then_some(offset)
}

/// Without x86-64 Linux there is no native world.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub fn tls_offset() -> Option<i32> {
    None
}

// ---- helpers (the VM's C functions) ---------------------------------------

/// Byte offset of the M2N list head in the thread structure.
const M2N_LIST: usize = 8;

/// Copy the thread's newest M2N frame into [`LAST_FRAME`] if recording.
fn record_frame() {
    if !RECORD_FRAMES.with(Cell::get) {
        return;
    }
    let ts = TS.with(Cell::get);
    let frame = if ts == 0 {
        None
    } else {
        // SAFETY: `ts` is the world's thread structure; a non-zero list head
        // is a frame a stub pushed and has not popped (it is on the stack
        // below this call).
        unsafe {
            let head = std::ptr::read_volatile((ts as usize + M2N_LIST) as *const u64);
            (head != 0).then(|| std::ptr::read_volatile(head as *const M2nFrame))
        }
    };
    LAST_FRAME.with(|c| c.set(frame));
}

/// `gc_alloc(size, vtable)`: the allocation slow path. Leaks (it runs only
/// in correctness checks).
#[inline(never)]
pub extern "C" fn gc_alloc(size: u32, vtable: u64) -> u64 {
    SLOW_CALLS.with(|c| c.set(c.get() + 1));
    record_frame();
    let words = (size as usize).div_ceil(8).max(1);
    let object: &'static mut [u64] = Box::leak(vec![0u64; words].into_boxed_slice());
    object[0] = vtable;
    object.as_ptr() as u64
}

/// `gc_enable()`: native code starts.
#[inline(never)]
pub extern "C" fn gc_enable() {
    GC_TRANSITIONS.with(|c| c.set(c.get() + 1));
    GC_ENABLED.with(|c| c.set(true));
}

/// `gc_disable()`: native code returns.
#[inline(never)]
pub extern "C" fn gc_disable() {
    GC_TRANSITIONS.with(|c| c.set(c.get() + 1));
    GC_ENABLED.with(|c| c.set(false));
}

/// The JNI native method: a stand-in for `Java_java_lang_Math_pow` that
/// costs one multiplication (and records whether the GC was enabled), so
/// the wrapper's own cost is what the timings show (every peer calls this
/// same function).
#[inline(never)]
pub extern "C" fn native_pow(_env: u64, _class: u64, a: f64, b: f64) -> f64 {
    NATIVE_RAN_GC_ENABLED.with(|c| c.set(GC_ENABLED.with(Cell::get)));
    record_frame();
    a * b
}

/// `rethrow()`: never reached by the measured paths.
#[inline(never)]
pub extern "C" fn rethrow() {
    std::process::abort();
}

/// The method a compile-me stub ends up in: `(a, b) -> 3a + b`.
#[inline(never)]
pub extern "C" fn compiled_method(a: u64, b: u64) -> u64 {
    a.wrapping_mul(3).wrapping_add(b)
}

/// `jit_compile(method)`: "compiles" the method and returns its code.
#[inline(never)]
pub extern "C" fn jit_compile(method: u64) -> u64 {
    LAST_COMPILED.with(|c| c.set(method));
    record_frame();
    compiled_method as *const () as u64
}

/// `monitor_enter_slow(object)`: the contended path.
#[inline(never)]
pub extern "C" fn monitor_enter_slow(_object: u64) {
    SLOW_CALLS.with(|c| c.set(c.get() + 1));
    record_frame();
}

// ---- the world -------------------------------------------------------------

/// Words in the thread structure (offsets of [`VmLayout::example`]).
const THREAD_WORDS: usize = 8;
/// Bytes of the allocation buffer.
pub const TLAB_BYTES: usize = 64 << 10;
/// Size of the objects the timing loops allocate.
pub const OBJECT_SIZE: u32 = 16;
/// This thread's lock id (a multiple of the recursion limit).
pub const LOCK_ID: u64 = 0x4200;

/// Zeroed words that generated code reads and writes through their address.
///
/// Held as a raw pointer (not a `Box`) because code outside Rust's view
/// writes them; every Rust access is volatile.
pub struct Words {
    ptr: *mut u64,
    len: usize,
}

impl Words {
    /// `len` zeroed words.
    pub fn new(len: usize) -> Words {
        let b: Box<[u64]> = vec![0u64; len.max(1)].into_boxed_slice();
        let len = b.len();
        Words {
            ptr: Box::into_raw(b) as *mut u64,
            len,
        }
    }

    /// Address of word 0.
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// Address of the word at byte offset `offset`.
    pub fn at(&self, offset: i32) -> u64 {
        self.addr().wrapping_add(offset as i64 as u64)
    }

    /// The word at byte offset `offset` (a multiple of 8 inside the block).
    pub fn get(&self, offset: i32) -> u64 {
        let i = self.index(offset);
        // SAFETY: `i` is in bounds (checked) and the block lives as long as `self`.
        unsafe { std::ptr::read_volatile(self.ptr.add(i)) }
    }

    /// Set the word at byte offset `offset`.
    pub fn set(&self, offset: i32, value: u64) {
        let i = self.index(offset);
        // SAFETY: as in `get`.
        unsafe { std::ptr::write_volatile(self.ptr.add(i), value) }
    }

    fn index(&self, offset: i32) -> usize {
        assert!(offset >= 0 && offset % 8 == 0, "word offset {offset}");
        let i = (offset / 8) as usize;
        assert!(
            i < self.len,
            "word offset {offset} beyond {} words",
            self.len
        );
        i
    }
}

impl Drop for Words {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from `Box::into_raw` of a boxed slice of
        // exactly `len` words, freed only here.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) });
    }
}

/// The in-process VM the stubs run against on x86-64.
pub struct NativeWorld {
    /// What the stubs are generated with.
    pub params: Params,
    /// The thread structure (`ts` points here).
    pub thread: Words,
    tlab: Words,
    /// The class structure the `instanceof` stub tests against.
    _class: Words,
    /// The object's vtable: class pointer, then the superclass table.
    _vtable: Words,
    /// An instance of the class (`instanceof` is true for it).
    object: Words,
    /// An object to lock (`monitor_enter`).
    lockable: Words,
    _class_object: Words,
    _class_handle: Words,
    _jni_env: Words,
    _method: Words,
    /// `ts` in memory, for peers that cannot read a TLS slot (Cranelift).
    ts_slot: Words,
}

impl NativeWorld {
    /// A world whose thread is the calling thread; `None` when this is not
    /// x86-64 Linux or `ts` cannot be read from a TLS slot.
    pub fn new() -> Option<NativeWorld> {
        if !cfg!(target_arch = "x86_64") {
            return None;
        }
        let tls_offset = tls_offset()?;
        let layout = layout_with_helpers();
        let thread = Words::new(THREAD_WORDS);
        let tlab = Words::new(TLAB_BYTES / 8);
        let class = Words::new(8);
        let depth = 3;
        let vtable = Words::new(16);
        vtable.set(layout.vtable.class, class.addr());
        let table = layout.vtable.superclasses;
        // Ancestors at depths 1 and 2 (made-up), the class itself at 3.
        vtable.set(table, 0x1111_0000);
        vtable.set(table + 8, 0x2222_0000);
        vtable.set(table + 8 * (depth as i32 - 1), class.addr());
        let object = Words::new(4);
        object.set(layout.object.vtable, vtable.addr());
        let lockable = Words::new(4);
        let class_object = Words::new(4);
        class_object.set(0, 0xc1a5_5000);
        let class_handle = Words::new(1);
        class_handle.set(0, class_object.addr());
        let jni_env = Words::new(4);
        let method = Words::new(4);
        thread.set(layout.thread.lock_id, LOCK_ID);
        let params = Params {
            layout,
            tls_offset,
            class: ClassInfo {
                class: class.addr(),
                depth,
                is_interface: false,
                vtable: vtable.addr(),
                instance_size: 32,
            },
            native_pow: native_pow as *const () as u64,
            jni_method: method.addr(),
            jni_env: jni_env.addr(),
            class_handle: class_handle.addr(),
        };
        let ts_slot = Words::new(1);
        ts_slot.set(0, thread.addr());
        let world = NativeWorld {
            params,
            thread,
            tlab,
            _class: class,
            _vtable: vtable,
            object,
            lockable,
            _class_object: class_object,
            _class_handle: class_handle,
            _jni_env: jni_env,
            _method: method,
            ts_slot,
        };
        world.enter();
        world.reset_tlab();
        Some(world)
    }

    /// Make this world's thread structure the calling thread's `ts`, and
    /// set the rustc peers' constants.
    pub fn enter(&self) {
        TS.with(|c| c.set(self.thread.addr()));
        RUST_INSTANCEOF.with(|c| {
            c.set((
                self.params.class.class,
                self.params.instanceof_slot() as u64,
            ))
        });
        RUST_JNI.with(|c| {
            c.set((
                self.params.jni_method,
                self.params.class_handle,
                self.params.jni_env,
                self.params.native_pow,
            ))
        });
    }

    /// Address of a word holding the thread structure's address.
    pub fn ts_slot_addr(&self) -> u64 {
        self.ts_slot.addr()
    }

    /// Empty the allocation buffer: frontier at its start, limit at its end.
    pub fn reset_tlab(&self) {
        let t = &self.params.layout.thread;
        self.thread.set(t.tlab_frontier, self.tlab.addr());
        self.thread
            .set(t.tlab_limit, self.tlab.addr() + TLAB_BYTES as u64);
    }

    /// The allocation buffer's address range.
    pub fn tlab_range(&self) -> std::ops::Range<u64> {
        self.tlab.addr()..self.tlab.addr() + TLAB_BYTES as u64
    }

    /// The instance of the `instanceof` class.
    pub fn object_addr(&self) -> u64 {
        self.object.addr()
    }

    /// The object `monitor_enter` locks.
    pub fn lockable_addr(&self) -> u64 {
        self.lockable.addr()
    }

    /// The lock word of [`NativeWorld::lockable_addr`].
    pub fn lock_word(&self) -> u64 {
        self.lockable.get(self.params.layout.object.lock_word)
    }

    /// Set the lock word of [`NativeWorld::lockable_addr`] (for example to
    /// another thread's lock id, to take the slow path).
    pub fn set_lock_word(&self, value: u64) {
        self.lockable
            .set(self.params.layout.object.lock_word, value);
    }

    /// Fill the allocation buffer, so the next allocation takes the slow path.
    pub fn fill_tlab(&self) {
        let t = &self.params.layout.thread;
        self.thread.set(t.tlab_frontier, self.tlab_range().end);
    }

    /// Unlock [`NativeWorld::lockable_addr`].
    pub fn unlock(&self) {
        self.lockable.set(self.params.layout.object.lock_word, 0);
    }
}

/// [`VmLayout::example`] with this process's helper addresses.
pub fn layout_with_helpers() -> VmLayout {
    let mut layout = VmLayout::example();
    let h = &mut layout.helpers;
    h.gc_alloc = gc_alloc as *const () as u64;
    h.gc_enable = gc_enable as *const () as u64;
    h.gc_disable = gc_disable as *const () as u64;
    h.rethrow = rethrow as *const () as u64;
    h.jit_compile = jit_compile as *const () as u64;
    h.monitor_enter_slow = monitor_enter_slow as *const () as u64;
    layout
}

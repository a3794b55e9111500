//! The rustc peers: each stub's fast path as a Rust function compiled
//! ahead of time, the way a VM written in Rust without a stub generator
//! would have it. They run against the same [`crate::runtime::NativeWorld`].
//!
//! What rustc cannot do is said where it matters: a Rust function cannot be
//! specialised per class at run time (the `instanceof` here reads the class
//! and its vtable slot from thread-locals); it cannot read its return
//! address or its caller's callee-saved registers without assembly (its M2N
//! frame records the method, type, handles and links, nothing more); and an
//! `arbitrary` trampoline that receives `sp0` in r10 and tail-calls with
//! the caller's arguments in place cannot be written at all (no rustc peer
//! for `compile_me_generic`).
//!
//! Invariant: the offsets here are those of [`lil_stubs::VmLayout::example`]
//! (a test checks it), compiled in as a Rust VM's struct definitions would be.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use lil_codegen::M2nFrame;

use crate::runtime::{
    RUST_INSTANCEOF, RUST_JNI, TS, gc_alloc, gc_disable, gc_enable, monitor_enter_slow, rethrow,
};
use crate::stubs::StubKind;

/// Thread structure offsets (bytes).
mod thread {
    pub const LOCK_ID: usize = 0;
    pub const M2N_LIST: usize = 8;
    pub const FRONTIER: usize = 16;
    pub const LIMIT: usize = 24;
    pub const PENDING: usize = 32;
}
/// Object header offsets (bytes).
const VTABLE: usize = 0;
const LOCK_WORD: usize = 8;
const RECURSION_LIMIT: u64 = 0x100;

/// The rustc function of `stub`, if rustc can express it.
pub fn function(stub: StubKind) -> Option<u64> {
    match stub {
        StubKind::Fig1Alloc => Some(fig1_alloc as *const () as u64),
        StubKind::InstanceOf => Some(instanceof as *const () as u64),
        StubKind::JniPow => Some(jni_pow as *const () as u64),
        StubKind::CompileMe => None,
        StubKind::MonitorEnter => Some(monitor_enter as *const () as u64),
    }
}

fn ts() -> *mut u8 {
    TS.with(Cell::get) as *mut u8
}

/// Figure 1 in Rust.
pub extern "C" fn fig1_alloc(size: u32, vtable: u64) -> u64 {
    let ts = ts();
    // SAFETY: `ts` points at the world's thread structure, whose frontier
    // points into its allocation buffer.
    unsafe {
        let frontier_at = ts.add(thread::FRONTIER) as *mut u64;
        let frontier = *frontier_at;
        let limit = *(ts.add(thread::LIMIT) as *const u64);
        let new_frontier = frontier.wrapping_add(u64::from(size));
        if new_frontier > limit {
            return gc_alloc(size, vtable);
        }
        *((frontier as usize + VTABLE) as *mut u64) = vtable;
        *frontier_at = new_frontier;
        frontier
    }
}

/// `instanceof` in Rust: the class and slot come from memory.
pub extern "C" fn instanceof(object: u64) -> u32 {
    if object == 0 {
        return 0;
    }
    let (class, slot) = RUST_INSTANCEOF.with(Cell::get);
    // SAFETY: a non-null object has a vtable with a superclass table.
    unsafe {
        let vtable = *((object as usize + VTABLE) as *const u64);
        u32::from(*((vtable + slot) as *const u64) == class)
    }
}

/// Thin-lock monitor enter in Rust.
pub extern "C" fn monitor_enter(object: u64) {
    // SAFETY: `ts` points at the thread structure; the object has a lock word.
    unsafe {
        let lock_id = *(ts().add(thread::LOCK_ID) as *const u64);
        let word = &*((object as usize + LOCK_WORD) as *const AtomicU64);
        match word.compare_exchange(0, lock_id, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {}
            Err(current) if (current ^ lock_id) < RECURSION_LIMIT - 1 => {
                word.store(current + 1, Ordering::Relaxed)
            }
            Err(_) => monitor_enter_slow(object),
        }
    }
}

/// Figure 3 in Rust. The M2N frame lacks the return address, the caller's
/// stack and frame pointers and its callee-saved registers (rustc cannot
/// read them).
pub extern "C" fn jni_pow(a: f64, b: f64) -> f64 {
    let ts = ts();
    let (method, class_handle, jni_env, native) = RUST_JNI.with(Cell::get);
    // SAFETY: the world stores `native_pow`'s address here.
    let native: extern "C" fn(u64, u64, f64, f64) -> f64 = unsafe { std::mem::transmute(native) };
    let mut frame = std::mem::MaybeUninit::<M2nFrame>::uninit();
    let f = frame.as_mut_ptr();
    // SAFETY: `ts` points at the thread structure, `class_handle` at a
    // reference; the frame is unlinked before it goes out of scope.
    unsafe {
        let head = ts.add(thread::M2N_LIST) as *mut u64;
        let mut handles = [*(class_handle as *const u64), 0u64];
        (*f).prev = *head;
        (*f).link = head as u64;
        (*f).local_handles = handles.as_mut_ptr() as u64;
        (*f).method = method;
        (*f).frame_type = 0;
        *head = f as u64;
        gc_enable();
        let r = native(jni_env, handles.as_ptr() as u64, a, b);
        gc_disable();
        if *(ts.add(thread::PENDING) as *const u64) != 0 {
            rethrow();
        }
        *head = (*f).prev;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_the_layout() {
        let l = lil_stubs::VmLayout::example();
        assert_eq!(thread::LOCK_ID as i32, l.thread.lock_id);
        assert_eq!(thread::M2N_LIST as i32, l.thread.m2n_list);
        assert_eq!(thread::FRONTIER as i32, l.thread.tlab_frontier);
        assert_eq!(thread::LIMIT as i32, l.thread.tlab_limit);
        assert_eq!(thread::PENDING as i32, l.thread.pending_exception);
        assert_eq!(VTABLE as i32, l.object.vtable);
        assert_eq!(LOCK_WORD as i32, l.object.lock_word);
        assert_eq!(RECURSION_LIMIT, u64::from(l.lock.recursion_limit));
    }
}

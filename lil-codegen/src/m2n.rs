//! The managed-to-native frame, one `#[repr(C)]` struct for every target,
//! and a walker over a thread's list of them.
//!
//! A stub that may cause a stack walk (a GC, a thrown exception) pushes an
//! [`M2nFrame`] with `push_m2n`: it records where the stub was called from
//! and the caller's callee-saved registers, so a walker can step from the
//! native frames below it back into managed code. Backends take every field
//! offset from this struct (`offset_of!`); it is the only description of the
//! layout. The walker reads memory through [`MemoryRead`], so it works on
//! the emulator's memory as well as on this process's.

use std::mem::{offset_of, size_of};

/// Frame types (DRLVM's `frame_type` bits); the VM may use its own.
pub mod frame_type {
    /// Unknown.
    pub const UNKNOWN: u64 = 0;
    /// Not unwindable.
    pub const NON_UNWINDABLE: u64 = 0x80;
    /// A JNI native method frame.
    pub const JNI: u64 = 0x81;
    /// A compilation (compile-me) frame.
    pub const COMPILATION: u64 = 0x82;
    /// Can be popped (JVMTI PopFrame).
    pub const POPABLE: u64 = 0x100;
    /// A safepoint frame.
    pub const SAFE_POINT: u64 = 0x800;
}

/// Number of general-purpose callee-saved register slots in a frame.
pub const M2N_SAVED_GP: usize = 10;
/// Number of floating-point callee-saved register slots (`m2n_save_all`).
pub const M2N_SAVED_FP: usize = 8;

/// A managed-to-native frame. Lives in the stub's own stack frame between
/// `push_m2n` and `pop_m2n`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct M2nFrame {
    /// The frame pushed before this one on the same thread (0 for none).
    pub prev: u64,
    /// Address of the thread's list head this frame is linked from.
    pub link: u64,
    /// The frame's local object handles (`handles = o`), 0 for none.
    pub local_handles: u64,
    /// The method the frame belongs to (`push_m2n M, ...`), 0 for none.
    pub method: u64,
    /// The frame type bits (`push_m2n M, FT`).
    pub frame_type: u64,
    /// Where the stub returns to in its caller.
    pub return_address: u64,
    /// The caller's stack pointer once the stub has returned.
    pub caller_sp: u64,
    /// The caller's frame pointer.
    pub caller_fp: u64,
    /// The caller's callee-saved general-purpose registers, in the order of
    /// the target's `TargetDesc::m2n_saved_gp` (x86-64: rbx, r12, r13, r14,
    /// r15; AArch64: x19..x28).
    pub saved_gp: [u64; M2N_SAVED_GP],
    /// The caller's callee-saved floating-point registers, recorded by
    /// `m2n_save_all` (AArch64: d8..d15; x86-64 has none).
    pub saved_fp: [u64; M2N_SAVED_FP],
}

/// Field offsets, for backends.
pub mod offsets {
    use super::*;
    /// `prev`
    pub const PREV: i32 = offset_of!(M2nFrame, prev) as i32;
    /// `link`
    pub const LINK: i32 = offset_of!(M2nFrame, link) as i32;
    /// `local_handles`
    pub const LOCAL_HANDLES: i32 = offset_of!(M2nFrame, local_handles) as i32;
    /// `method`
    pub const METHOD: i32 = offset_of!(M2nFrame, method) as i32;
    /// `frame_type`
    pub const FRAME_TYPE: i32 = offset_of!(M2nFrame, frame_type) as i32;
    /// `return_address`
    pub const RETURN_ADDRESS: i32 = offset_of!(M2nFrame, return_address) as i32;
    /// `caller_sp`
    pub const CALLER_SP: i32 = offset_of!(M2nFrame, caller_sp) as i32;
    /// `caller_fp`
    pub const CALLER_FP: i32 = offset_of!(M2nFrame, caller_fp) as i32;
    /// `saved_gp[0]`
    pub const SAVED_GP: i32 = offset_of!(M2nFrame, saved_gp) as i32;
    /// `saved_fp[0]`
    pub const SAVED_FP: i32 = offset_of!(M2nFrame, saved_fp) as i32;
    /// The whole frame.
    pub const SIZE: u32 = size_of::<M2nFrame>() as u32;
}

/// Read access to the memory M2N frames live in.
pub trait MemoryRead {
    /// Read a little-endian u64 at `addr`, or `None` if it cannot be read.
    fn read_u64(&mut self, addr: u64) -> Option<u64>;
}

/// This process's memory.
///
/// # Safety
/// Reading through it dereferences the addresses it is given: use it only
/// on M2N lists this process built.
pub struct ProcessMemory(());

impl ProcessMemory {
    /// Access to this process's memory.
    ///
    /// # Safety
    /// The caller promises that every address the walker reads (the list
    /// head and each frame) is valid for reads.
    pub unsafe fn new() -> ProcessMemory {
        ProcessMemory(())
    }
}

impl MemoryRead for ProcessMemory {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        if addr == 0 || !addr.is_multiple_of(8) {
            return None;
        }
        // SAFETY: `ProcessMemory::new` made the caller promise the addresses are readable.
        Some(unsafe { (addr as *const u64).read_volatile() })
    }
}

/// Walks a thread's M2N frames, most recent first.
///
/// The list starts at the u64 at `thread + list_offset`. The walk stops at a
/// null link, at an unreadable frame, and after `limit` frames (a corrupt
/// list cannot make it loop forever).
pub struct M2nWalker<M: MemoryRead> {
    memory: M,
    next: u64,
    remaining: usize,
}

impl<M: MemoryRead> M2nWalker<M> {
    /// Start at the list head of the thread at `thread`.
    pub fn new(mut memory: M, thread: u64, list_offset: i32) -> M2nWalker<M> {
        let head = thread.wrapping_add(list_offset as i64 as u64);
        let next = memory.read_u64(head).unwrap_or(0);
        M2nWalker {
            memory,
            next,
            remaining: 1 << 16,
        }
    }
}

impl<M: MemoryRead> Iterator for M2nWalker<M> {
    type Item = (u64, M2nFrame);

    /// The next frame's address and contents.
    fn next(&mut self) -> Option<(u64, M2nFrame)> {
        if self.next == 0 || self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let at = self.next;
        let mut words = [0u64; size_of::<M2nFrame>() / 8];
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.memory.read_u64(at + 8 * i as u64)?;
        }
        let mut frame = M2nFrame {
            prev: words[0],
            link: words[1],
            local_handles: words[2],
            method: words[3],
            frame_type: words[4],
            return_address: words[5],
            caller_sp: words[6],
            caller_fp: words[7],
            ..M2nFrame::default()
        };
        frame.saved_gp.copy_from_slice(&words[8..8 + M2N_SAVED_GP]);
        frame
            .saved_fp
            .copy_from_slice(&words[8 + M2N_SAVED_GP..8 + M2N_SAVED_GP + M2N_SAVED_FP]);
        self.next = frame.prev;
        Some((at, frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_what_backends_assume() {
        assert_eq!(offsets::PREV, 0);
        assert_eq!(offsets::SAVED_GP, 64);
        assert_eq!(offsets::SAVED_FP, 64 + 8 * M2N_SAVED_GP as i32);
        assert_eq!(offsets::SIZE, 208);
        assert_eq!(offsets::SIZE % 16, 0);
    }

    struct Words(Vec<u64>);
    impl MemoryRead for Words {
        fn read_u64(&mut self, addr: u64) -> Option<u64> {
            self.0.get(addr as usize / 8).copied()
        }
    }

    #[test]
    fn walker_follows_prev_and_stops_on_loops() {
        // Thread at 0 holds the head at offset 8 -> frame at 64 -> frame at 512 -> 0.
        let mut mem = vec![0u64; 128];
        mem[1] = 64;
        mem[64 / 8] = 512; // prev
        mem[64 / 8 + 3] = 7; // method
        mem[512 / 8] = 0;
        mem[512 / 8 + 3] = 9;
        let methods: Vec<u64> = M2nWalker::new(Words(mem.clone()), 0, 8)
            .map(|(_, f)| f.method)
            .collect();
        assert_eq!(methods, [7, 9]);
        // A frame that points at itself is walked a bounded number of times.
        mem[64 / 8] = 64;
        assert_eq!(M2nWalker::new(Words(mem), 0, 8).count(), 1 << 16);
    }
}

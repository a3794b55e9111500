//! Memory access for the VM, from outside a call (through the
//! [`Machine`]) and from inside a host function (through [`HostCall`]),
//! and the M2N stack walk.
//!
//! M2N frames live on the stack generated code runs on. The emulator and
//! the interpreter expose theirs through `HostCall::read`; the native
//! machine runs on this thread's own stack, which `HostCall::read` refuses,
//! so the walker falls back to reading this thread's stack mapping directly
//! (bounds found once, when the VM boots on this thread).

use lil_codegen::m2n::{M2nFrame, M2nWalker, MemoryRead};
use lil_machine::{HostCall, Machine, MachineError};

/// Read and write machine memory.
///
/// The method names differ from `Machine`'s and `HostCall`'s own
/// `read_u64`/`write_u64` so both traits can be in scope.
pub(crate) trait Mem {
    fn load(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError>;
    fn store(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError>;

    fn load_u64(&mut self, addr: u64) -> Result<u64, MachineError> {
        let mut b = [0; 8];
        self.load(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn store_u64(&mut self, addr: u64, v: u64) -> Result<(), MachineError> {
        self.store(addr, &v.to_le_bytes())
    }
    fn load_u32(&mut self, addr: u64) -> Result<u32, MachineError> {
        let mut b = [0; 4];
        self.load(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn store_u32(&mut self, addr: u64, v: u32) -> Result<(), MachineError> {
        self.store(addr, &v.to_le_bytes())
    }
}

impl Mem for dyn Machine + '_ {
    fn load(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        Machine::read(self, addr, buf)
    }
    fn store(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        Machine::write(self, addr, data)
    }
}

impl Mem for dyn HostCall + '_ {
    fn load(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        HostCall::read(self, addr, buf)
    }
    fn store(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        HostCall::write(self, addr, data)
    }
}

/// The bounds of this thread's stack mapping, when generated code runs on
/// it (the native machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NativeStack {
    start: u64,
    end: u64,
}

impl NativeStack {
    /// The mapping holding this function's frame, from `/proc/self/maps`.
    pub(crate) fn of_this_thread() -> Option<NativeStack> {
        let marker = 0u8;
        let addr = std::ptr::addr_of!(marker) as u64;
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|line| {
            let range = line.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            let start = u64::from_str_radix(a, 16).ok()?;
            let end = u64::from_str_radix(b, 16).ok()?;
            (start <= addr && addr < end).then_some(NativeStack { start, end })
        })
    }

    pub(crate) fn read_word(&self, addr: u64) -> Option<u64> {
        if !addr.is_multiple_of(8) || addr < self.start || addr.checked_add(8)? > self.end {
            return None;
        }
        // SAFETY: the address is 8-byte aligned and inside this thread's
        // stack mapping, which is mapped readable for the thread's life.
        Some(unsafe { (addr as *const u64).read_volatile() })
    }
}

struct WalkMemory<'a, M: Mem + ?Sized> {
    mem: &'a mut M,
    stack: Option<NativeStack>,
}

impl<M: Mem + ?Sized> MemoryRead for WalkMemory<'_, M> {
    fn read_u64(&mut self, addr: u64) -> Option<u64> {
        match self.mem.load_u64(addr) {
            Ok(v) => Some(v),
            Err(_) => self.stack.and_then(|s| s.read_word(addr)),
        }
    }
}

/// The M2N frames of the thread at `thread`, most recent first.
pub(crate) fn walk<M: Mem + ?Sized>(
    mem: &mut M,
    stack: Option<NativeStack>,
    thread: u64,
    list_offset: i32,
) -> Vec<(u64, M2nFrame)> {
    M2nWalker::new(WalkMemory { mem, stack }, thread, list_offset).collect()
}

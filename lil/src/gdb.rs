//! The GDB JIT interface: tell a debugger about stubs as they are installed
//! and freed, so that backtraces, breakpoints and `info symbol` name them
//! and show their LIL source lines.
//!
//! The protocol (GDB manual, "JIT Compilation Interface"; LLDB speaks it
//! too) is a linked list of in-memory object files rooted at the global
//! `__jit_debug_descriptor`, and a function `__jit_debug_register_code` the
//! debugger puts a breakpoint on; the JIT calls it after each change. Each
//! object here is the ELF image of [`crate::debuginfo::elf_image`]: a
//! symbol with the stub's name at its address, call-frame information so
//! the debugger can unwind through the stub into its caller, and a line
//! table into its LIL source.
//!
//! The two symbols are defined by this crate (feature `gdb-jit`, on by
//! default). A process has one set: if another JIT linked into the same
//! program defines them too, turn the feature off in one of them.
//!
//! Registration is cheap when no debugger is attached (a lock, a list
//! insertion and an empty call), but building the object costs a few
//! microseconds per stub, so it is opt-in: [`crate::Jit::enable_gdb`].

// Without the feature the list is never linked to a descriptor.
#![cfg_attr(not(feature = "gdb-jit"), allow(dead_code, unused_mut))]

use std::ptr;
use std::sync::Mutex;

use crate::Error;
use crate::debuginfo::{StubImage, elf_image};

const JIT_NOACTION: u32 = 0;
const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// `struct jit_code_entry` of the GDB JIT interface.
#[repr(C)]
struct JitCodeEntry {
    next_entry: *mut JitCodeEntry,
    prev_entry: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor` of the GDB JIT interface.
#[repr(C)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// The descriptor the debugger reads; only touched under this module's lock.
#[cfg(feature = "gdb-jit")]
#[unsafe(no_mangle)]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: ptr::null_mut(),
    first_entry: ptr::null_mut(),
};

/// The function the debugger breaks on to learn that the list changed.
#[cfg(feature = "gdb-jit")]
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // An opaque empty body: the call must not be optimised away, and the
    // function must not be merged with another empty one.
    // SAFETY: an empty asm block has no effect.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// Serialises every change to the list (the protocol has no other lock).
static LOCK: Mutex<()> = Mutex::new(());

/// A stub registered with the debugger; unregistered when dropped.
///
/// Drop it before the stub's code is freed, so the debugger never
/// describes memory that now holds another stub.
#[derive(Debug)]
pub struct Registration {
    entry: *mut JitCodeEntry,
    // The ELF image the entry points into; must outlive the entry.
    image: Box<[u8]>,
}

// SAFETY: the entry is only touched under `LOCK`; the image is immutable.
unsafe impl Send for Registration {}
// SAFETY: as above; `&Registration` gives no access to the entry.
unsafe impl Sync for Registration {}

impl Registration {
    /// The ELF object the debugger was given.
    pub fn object(&self) -> &[u8] {
        &self.image
    }
}

/// Whether this build can register code with a debugger (feature `gdb-jit`).
pub const AVAILABLE: bool = cfg!(feature = "gdb-jit");

/// Register one installed stub with the debugger.
///
/// Without the `gdb-jit` feature this builds the object and returns a
/// registration no debugger sees.
pub fn register(image: &StubImage<'_>) -> Result<Registration, Error> {
    let elf = elf_image(image)?.into_boxed_slice();
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next_entry: ptr::null_mut(),
        prev_entry: ptr::null_mut(),
        symfile_addr: elf.as_ptr(),
        symfile_size: elf.len() as u64,
    }));
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    #[cfg(feature = "gdb-jit")]
    // SAFETY: the descriptor and every entry in its list are only accessed
    // with `LOCK` held; `entry` is a fresh allocation owned by the list
    // until `Registration::drop` unlinks it.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        let first = (*d).first_entry;
        (*entry).next_entry = first;
        if !first.is_null() {
            (*first).prev_entry = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = JIT_REGISTER_FN;
        __jit_debug_register_code();
        (*d).action_flag = JIT_NOACTION;
    }
    Ok(Registration { entry, image: elf })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        #[cfg(feature = "gdb-jit")]
        // SAFETY: `self.entry` is in the list (linked by `register`), which
        // is only accessed with `LOCK` held.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            let (prev, next) = ((*e).prev_entry, (*e).next_entry);
            if prev.is_null() {
                (*d).first_entry = next;
            } else {
                (*prev).next_entry = next;
            }
            if !next.is_null() {
                (*next).prev_entry = prev;
            }
            (*d).relevant_entry = e;
            (*d).action_flag = JIT_UNREGISTER_FN;
            __jit_debug_register_code();
            (*d).action_flag = JIT_NOACTION;
            (*d).relevant_entry = ptr::null_mut();
        }
        // SAFETY: allocated by `Box::into_raw` in `register`, now unlinked.
        drop(unsafe { Box::from_raw(self.entry) });
    }
}

/// How many stubs are registered with the debugger right now (all JITs of
/// the process).
pub fn registered_count() -> usize {
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut n = 0;
    #[cfg(feature = "gdb-jit")]
    // SAFETY: the list is only accessed with `LOCK` held.
    unsafe {
        let d = &raw const __jit_debug_descriptor;
        let mut e = (*d).first_entry;
        while !e.is_null() {
            n += 1;
            e = (*e).next_entry;
        }
    }
    n
}

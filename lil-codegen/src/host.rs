//! The host environment: the facts about the VM a stub is generated for.
//!
//! Stubs never hard-code a VM. How `ts` is obtained, where the thread keeps
//! its M2N list, what `pop_m2n` calls, where `print` goes, and the VM's own
//! `managed`/`rth` conventions are one [`HostEnv`] value handed to the
//! backend with the stub.

use crate::target::{CallingConvention, TargetDesc};
use lil_syntax::CallConv;

/// How generated code obtains the thread pointer (`v = ts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadPointer {
    /// Call `extern "C" fn() -> *mut Thread` at this address. Costs a call;
    /// the backend saves live scratch registers around it.
    Call {
        /// The function's address.
        function: u64,
    },
    /// Load the pointer from a thread-local slot: `fs:[offset]` on x86-64,
    /// `[tpidr_el0 + offset]` on AArch64. One instruction (two on AArch64).
    TlsSlot {
        /// Offset of the slot from the thread's TLS base.
        offset: i32,
    },
    /// The VM keeps it in a register of the target that generated code never
    /// uses otherwise (for example `r13` or `x28`). Zero instructions.
    Register(u8),
}

/// Host functions `pop_m2n` calls before it unlinks a frame. Each is
/// `extern "C" fn(frame: *mut M2nFrame)`; both run while the frame is still
/// on the thread's list, so a stack walk from them sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct M2nHooks {
    /// Called by the `pop_m2n` of a frame pushed with `handles`: free the
    /// frame's local object handles.
    pub free_handles: Option<u64>,
    /// Called by every `pop_m2n`: rethrow a pending exception (it need not return).
    pub pending_exception: Option<u64>,
}

/// The facts about the host VM a backend needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEnv {
    /// How `ts` is read.
    pub thread_pointer: ThreadPointer,
    /// Byte offset, in the structure `ts` points to, of the pointer to the
    /// thread's most recent M2N frame (the head of its M2N list).
    pub m2n_list_offset: i32,
    /// What `pop_m2n` calls.
    pub m2n_hooks: M2nHooks,
    /// Where `print` goes: `extern "C" fn(message: *const u8, len: usize, value: u64)`.
    /// Without one, `print` generates no code.
    pub print: Option<u64>,
    /// The VM's convention for JIT-compiled code, if not the C ABI.
    pub managed: Option<CallingConvention>,
    /// The VM's convention for runtime helpers, if not the C ABI.
    pub rth: Option<CallingConvention>,
    /// AArch64: the CPU has the ARMv8.1 LSE atomics (`cas` becomes `casal`).
    pub lse_atomics: bool,
}

impl HostEnv {
    /// An environment where `ts` calls `thread_function` and the M2N list
    /// head is at `m2n_list_offset` in the thread structure.
    pub fn new(thread_pointer: ThreadPointer, m2n_list_offset: i32) -> HostEnv {
        HostEnv {
            thread_pointer,
            m2n_list_offset,
            m2n_hooks: M2nHooks::default(),
            print: None,
            managed: None,
            rth: None,
            lse_atomics: false,
        }
    }

    /// The convention `cc` means on `desc`'s target in this environment.
    /// `handler` stubs take no arguments; the C ABI describes their frame.
    #[inline]
    pub fn convention<'a>(&'a self, desc: &'a TargetDesc, cc: CallConv) -> &'a CallingConvention {
        match cc {
            CallConv::Managed => self.managed.as_ref().unwrap_or(&desc.c_abi),
            CallConv::Rth => self.rth.as_ref().unwrap_or(&desc.c_abi),
            CallConv::Platform | CallConv::Jni | CallConv::StdCall | CallConv::Handler => {
                &desc.c_abi
            }
        }
    }
}

impl Default for HostEnv {
    /// `ts` from TLS slot 0, list head at offset 0: only useful for stubs
    /// that use neither.
    fn default() -> HostEnv {
        HostEnv::new(ThreadPointer::TlsSlot { offset: 0 }, 0)
    }
}

//! Exact counts of the x86-64 instructions one call executes, by
//! single-stepping it in this process with the trap flag.
//!
//! [`single_step`] sets `EFLAGS.TF` right before a `call` and clears it
//! right after; every instruction in between raises `SIGTRAP`, whose
//! handler counts it, and counts it as the stub's own when the instruction
//! pointer lies in the stub's code. This is exact (no sampling, no skid) and
//! needs no privileges; it is slow (a signal per instruction), which does not
//! matter for counting one fast path.
//!
//! Invariants: only one thread single-steps at a time (a lock serializes
//! callers, since the counters and the handler are process-wide); the
//! stepped code must not make system calls or change the signal mask.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Registers for the stepped call: the System V argument registers, `r10`
/// (LIL's `sp0`) and the first two floating-point arguments.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallRegs {
    /// The address called.
    pub target: u64,
    /// rdi, rsi, rdx, rcx, r8, r9.
    pub args: [u64; 6],
    /// xmm0, xmm1.
    pub fargs: [f64; 2],
    /// r10.
    pub sp0: u64,
}

/// What one stepped call did.
#[derive(Clone, Debug, PartialEq)]
pub struct Stepped {
    /// rax after the call.
    pub rax: u64,
    /// xmm0 after the call.
    pub xmm0: f64,
    /// Instructions executed with the instruction pointer in the region.
    pub in_region: u64,
    /// Every instruction executed while stepping (includes the callees and
    /// a fixed few of the harness; see [`baseline`]).
    pub total: u64,
    /// The addresses of the instructions executed in the region, in order
    /// (the first [`TRACE_CAPACITY`]).
    pub trace: Vec<u64>,
}

/// How many in-region instruction addresses a [`Stepped`] keeps.
pub const TRACE_CAPACITY: usize = 1024;

static LOCK: Mutex<()> = Mutex::new(());
static REGION_START: AtomicU64 = AtomicU64::new(0);
static REGION_END: AtomicU64 = AtomicU64::new(0);
static IN_REGION: AtomicU64 = AtomicU64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);
static TRACE: [AtomicU64; TRACE_CAPACITY] = [const { AtomicU64::new(0) }; TRACE_CAPACITY];
static TRACE_LEN: AtomicUsize = AtomicUsize::new(0);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
extern "C" fn on_trap(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    let rip = unsafe {
        (*(context as *const libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RIP as usize]
    } as u64;
    TOTAL.fetch_add(1, Ordering::Relaxed);
    if rip >= REGION_START.load(Ordering::Relaxed) && rip < REGION_END.load(Ordering::Relaxed) {
        IN_REGION.fetch_add(1, Ordering::Relaxed);
        let at = TRACE_LEN.fetch_add(1, Ordering::Relaxed);
        if at < TRACE_CAPACITY {
            TRACE[at].store(rip, Ordering::Relaxed);
        }
    }
}

/// Call `regs.target` with single-stepping on, counting the instructions
/// executed in `region`.
///
/// # Safety
///
/// `regs.target` must be code that can be called with these registers (a
/// function of the System V ABI that may also read `r10`), that returns, and
/// that makes no system call.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub unsafe fn single_step(regs: &CallRegs, region: Range<u64>) -> std::io::Result<Stepped> {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    REGION_START.store(region.start, Ordering::Relaxed);
    REGION_END.store(region.end, Ordering::Relaxed);
    IN_REGION.store(0, Ordering::Relaxed);
    TOTAL.store(0, Ordering::Relaxed);
    TRACE_LEN.store(0, Ordering::Relaxed);

    // SAFETY: installing a handler that only touches atomics; the previous
    // action is restored below.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_trap as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGTRAP, &action, &mut old) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }

    let [a0, a1, a2, a3, a4, a5] = regs.args;
    let rax: u64;
    let xmm0: f64;
    // SAFETY: the caller vouches for the callee. TF is set by `popfq` just
    // before the call and cleared just after it returns; the stack is
    // balanced around the call and 16-byte aligned at it (asm blocks start
    // with an ABI-aligned stack).
    unsafe {
        core::arch::asm!(
            "pushfq",
            "or qword ptr [rsp], 0x100",
            "popfq",
            "call {target}",
            "pushfq",
            "and qword ptr [rsp], -257",
            "popfq",
            target = in(reg) regs.target,
            inout("rdi") a0 => _,
            inout("rsi") a1 => _,
            inout("rdx") a2 => _,
            inout("rcx") a3 => _,
            inout("r8") a4 => _,
            inout("r9") a5 => _,
            inout("r10") regs.sp0 => _,
            inout("xmm0") regs.fargs[0] => xmm0,
            inout("xmm1") regs.fargs[1] => _,
            lateout("rax") rax,
            clobber_abi("C"),
        );
        libc::sigaction(libc::SIGTRAP, &old, std::ptr::null_mut());
    }
    let traced = TRACE_LEN.load(Ordering::Relaxed).min(TRACE_CAPACITY);
    Ok(Stepped {
        rax,
        xmm0,
        in_region: IN_REGION.load(Ordering::Relaxed),
        total: TOTAL.load(Ordering::Relaxed),
        trace: TRACE[..traced]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect(),
    })
}

/// Without x86-64 Linux there is nothing to step.
///
/// # Safety
///
/// Trivially safe; `unsafe` to match the x86-64 signature.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub unsafe fn single_step(_regs: &CallRegs, _region: Range<u64>) -> std::io::Result<Stepped> {
    Err(std::io::Error::other("single-stepping needs x86-64 Linux"))
}

/// A function that only returns: stepping it measures the harness's own
/// instructions, to subtract from [`Stepped::total`].
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[unsafe(naked)]
extern "C" fn just_return() {
    core::arch::naked_asm!("ret");
}

/// Instructions [`single_step`] counts in `total` for a call of a function
/// that only returns, minus that `ret`: the harness's share of every total.
pub fn baseline() -> std::io::Result<u64> {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let regs = CallRegs {
            target: just_return as *const () as u64,
            ..CallRegs::default()
        };
        // SAFETY: `just_return` returns at once.
        let s = unsafe { single_step(&regs, 0..0)? };
        Ok(s.total.saturating_sub(1))
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    Err(std::io::Error::other("single-stepping needs x86-64 Linux"))
}

#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod tests {
    use super::*;

    #[unsafe(naked)]
    extern "C" fn three_then_ret() {
        core::arch::naked_asm!("mov rax, rdi", "add rax, rsi", "add rax, r10", "ret");
    }

    #[test]
    fn counts_exactly_the_instructions_executed() {
        let f = three_then_ret as *const () as u64;
        let regs = CallRegs {
            target: f,
            args: [1, 2, 0, 0, 0, 0],
            sp0: 4,
            ..CallRegs::default()
        };
        // SAFETY: the function above.
        let s = unsafe { single_step(&regs, f..f + 64) }.unwrap();
        assert_eq!(s.rax, 7);
        assert_eq!(s.in_region, 4);
        let base = baseline().unwrap();
        assert_eq!(s.total - base, 4);
    }
}

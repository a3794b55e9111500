//! A stub run natively that faults (a `call` to a made-up address, a load
//! through a bad pointer) would kill `lil run` with a bare signal and no
//! word on stderr. While native code runs, fatal signals instead print what
//! happened and what to do, and exit 1 (the stub failed when run).
//!
//! The handler only calls `write` and `_exit`, which are async-signal-safe,
//! on messages built before the stub runs; it runs on an alternate stack so
//! that a stub that overflows the stack is reported too.

use std::sync::OnceLock;

/// The message's parts around the signal's name, fixed before any code runs.
static MESSAGE: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();

/// The signals a faulting stub raises.
const SIGNALS: [(libc::c_int, &str); 5] = [
    (libc::SIGSEGV, "SIGSEGV (a bad memory access)"),
    (libc::SIGBUS, "SIGBUS (a bad memory access)"),
    (libc::SIGILL, "SIGILL (an illegal instruction)"),
    (libc::SIGFPE, "SIGFPE (an arithmetic fault)"),
    (libc::SIGTRAP, "SIGTRAP (a breakpoint)"),
];

extern "C" fn on_fault(signal: libc::c_int) {
    let name = SIGNALS
        .iter()
        .find(|(s, _)| *s == signal)
        .map_or("a fatal signal", |(_, name)| name);
    let write = |bytes: &[u8]| {
        // SAFETY: write(2) on stderr with a valid buffer; async-signal-safe.
        unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    };
    match MESSAGE.get() {
        Some((before, after)) => {
            write(before);
            write(name.as_bytes());
            write(after);
        }
        None => write(b"error: the stub crashed\n"),
    }
    // SAFETY: _exit(2) is async-signal-safe and never returns.
    unsafe { libc::_exit(1) }
}

/// Report fatal signals of native code for the stub in `file` from now on.
pub fn report_faults(file: &str) {
    let _ = MESSAGE.set((
        format!("error: {file}: the stub crashed with ").into_bytes(),
        b" while running natively. \
It probably called an address that is not a function in this process (`lil run` \
provides no host functions) or used a pointer that is not valid here. \
Run it with `--target eval` to have the reference interpreter name the \
instruction and the address.\n"
            .to_vec(),
    ));
    const ALT_STACK: usize = 64 * 1024;
    // Leaked on purpose: the alternate stack must outlive every signal.
    let stack: &'static mut [u8] = Box::leak(vec![0u8; ALT_STACK].into_boxed_slice());
    // SAFETY: the alternate stack is valid for the rest of the process;
    // the handler is an `extern "C" fn(c_int)` installed without
    // SA_SIGINFO, as sigaction(2) requires for `sa_sigaction` then.
    unsafe {
        let ss = libc::stack_t {
            ss_sp: stack.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: stack.len(),
        };
        libc::sigaltstack(&ss, std::ptr::null_mut());
        for (signal, _) in SIGNALS {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fault as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

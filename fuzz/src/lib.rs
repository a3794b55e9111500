//! What the fuzz targets share: choices for the stub generator read from
//! fuzzer bytes, and host environments to compile in.
//!
//! Targets (run one at a time, e.g. `cargo +nightly fuzz run parse -- -jobs=1`):
//! - `parse`: arbitrary bytes through the parser; what parses prints and
//!   parses back to itself.
//! - `check`: arbitrary ASTs (lil-syntax's `arbitrary` feature) through the
//!   checker, which must never panic; their printed text through parser
//!   and checker, diagnostics rendered against it.
//! - `compile`: every stub the checker accepts (arbitrary ASTs and the
//!   differential generator's stubs) compiles on x86-64 and AArch64 in a
//!   varied host environment, failing only with a documented limit.
//! - `differential`: generated valid stubs run in the interpreter and
//!   natively on x86-64 must agree (`lil_tests::differential`).

use arbitrary::Unstructured;
use lil_codegen::{HostEnv, M2nHooks, ThreadPointer};
use lil_tests::differential::Choices;

/// Generator choices read from fuzzer bytes; 0 once they run out.
pub struct Bytes<'a, 'b>(pub &'b mut Unstructured<'a>);

impl Choices for Bytes<'_, '_> {
    fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        self.0.int_in_range(0..=n - 1).unwrap_or(0)
    }

    fn word(&mut self) -> u32 {
        self.0.arbitrary().unwrap_or(0)
    }
}

/// A host environment built from fuzzer bytes: how `ts` is read, the M2N
/// list offset, hooks, `print`, LSE. (No pinned register and no custom
/// conventions: those fail with E0401/E0404 by design.)
pub fn host_env(u: &mut Unstructured<'_>) -> HostEnv {
    let thread_pointer = match u.int_in_range(0..=2u8).unwrap_or(0) {
        0 => ThreadPointer::TlsSlot {
            offset: u.arbitrary().unwrap_or(0),
        },
        1 => ThreadPointer::Call {
            function: u.arbitrary().unwrap_or(0x1000),
        },
        _ => ThreadPointer::TlsSlot { offset: 0 },
    };
    let mut env = HostEnv::new(thread_pointer, u.arbitrary().unwrap_or(8));
    let address = |u: &mut Unstructured<'_>| -> Option<u64> {
        u.arbitrary::<bool>()
            .unwrap_or(false)
            .then(|| u.arbitrary().unwrap_or(0x2000))
    };
    env.m2n_hooks = M2nHooks {
        free_handles: address(u),
        pending_exception: address(u),
    };
    env.print = address(u);
    env.lse_atomics = u.arbitrary().unwrap_or(false);
    env
}

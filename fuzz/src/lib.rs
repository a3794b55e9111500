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
use lil_syntax::{InstKind, MAX_INDEX, Operand, OperandKind, Place, Stub, Var};
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

/// Whether every count and variable index is one the parser could produce.
/// Known, reported: beyond them the checker allocates in proportion to the
/// number (a `locals` count: that many bytes per instruction,
/// lil-check/tests/regressions.rs; a local index: index/8 bytes for its
/// read set). Such ASTs are skipped so the fuzzer looks further.
fn within_parser_limits(stub: &Stub) -> bool {
    let var_ok = |v: Var| match v {
        Var::Input(k) | Var::Local(k) | Var::Output(k) | Var::StdPlace(k) => k <= MAX_INDEX,
        Var::Ret => true,
    };
    let place_ok = |p: &Place| var_ok(p.var);
    let operand_ok = |o: &Operand| match o.kind {
        OperandKind::Var(v) => var_ok(v),
        OperandKind::Imm(_) => true,
    };
    let address_ok = |a: &lil_syntax::Address| {
        a.base.as_ref().is_none_or(place_ok) && a.index.as_ref().is_none_or(|(p, _)| place_ok(p))
    };
    stub.body.iter().all(|i| match &i.kind {
        InstKind::Locals(n) | InstKind::StdPlaces(n) => *n <= MAX_INDEX,
        InstKind::Alloc { dst, .. } | InstKind::Ts { dst } => place_ok(dst),
        InstKind::Move { dst, src } | InstKind::Unary { dst, src, .. } => {
            place_ok(dst) && operand_ok(src)
        }
        InstKind::Binary { dst, lhs, rhs, .. } => {
            place_ok(dst) && operand_ok(lhs) && operand_ok(rhs)
        }
        InstKind::Handles(o) => operand_ok(o),
        InstKind::Ld { dst, addr, .. } => place_ok(dst) && address_ok(addr),
        InstKind::St { addr, src } => address_ok(addr) && operand_ok(src),
        InstKind::Inc { addr } => address_ok(addr),
        InstKind::Cas {
            addr,
            compare,
            source,
            ..
        } => address_ok(addr) && operand_ok(compare) && operand_ok(source),
        InstKind::JumpIf { cond, .. } => operand_ok(&cond.lhs) && operand_ok(&cond.rhs),
        InstKind::Call { target, .. } => operand_ok(target),
        InstKind::PushM2n {
            method, frame_type, ..
        } => method.as_ref().is_none_or(operand_ok) && frame_type.as_ref().is_none_or(operand_ok),
        InstKind::Print { operand, .. } => operand.as_ref().is_none_or(operand_ok),
        _ => true,
    })
}

/// ASTs that hit checker bugs already reported (see
/// lil-check/tests/regressions.rs), which the targets skip so that fuzzing
/// finds new ones: counts and indices beyond the parser's limits (memory),
/// and a stub whose first instruction is a label (a join conflict there
/// panics in `report_conflict`).
pub fn known_checker_issue(stub: &Stub) -> bool {
    !within_parser_limits(stub)
        || matches!(stub.body.first(), Some(i) if matches!(i.kind, InstKind::Label(_)))
}

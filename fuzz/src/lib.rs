//! What the fuzz targets share: choices for the stub generator read from
//! fuzzer bytes, and host environments to compile in.
//!
//! Targets (run one at a time, e.g. `cargo +nightly fuzz run parse -- -jobs=1`):
//! - `parse`: arbitrary bytes through the parser; what parses prints and
//!   parses back to itself.
//! - `check`: arbitrary ASTs (lil-syntax's `arbitrary` feature) through the
//!   checker, as they come and [`tame`]d, which must never panic; their printed text through parser
//!   and checker, diagnostics rendered against it.
//! - `compile`: every stub the checker accepts (arbitrary ASTs and the
//!   differential generator's stubs) compiles on x86-64 and AArch64 in a
//!   varied host environment, failing only with a documented limit.
//! - `reuse`: a few stubs in a row (generated, tamed arbitrary ASTs
//!   printed, raw bytes) through the reusing entry points
//!   (`parse_with_into`, one `Checker`, `compile_into` on both targets)
//!   give exactly the one-shot pipeline's answers.
//! - `differential`: generated valid stubs run in the interpreter and
//!   natively on x86-64 must agree (`lil_tests::differential`).

use arbitrary::Unstructured;
use lil_codegen::{HostEnv, M2nHooks, ThreadPointer};
use lil_syntax::{Address, InstKind, LabelId, LabelRef, Operand, OperandKind, Place, Stub, Var};
use lil_tests::differential::{Case, Choices, fill, placeholder_names};

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

/// The text of a valid stub from the differential generator (its main
/// stub), with the helpers it calls at placeholder addresses moved above
/// 4 GiB, so that calls take the backends' 64-bit immediate forms.
pub fn generated_text(u: &mut Unstructured<'_>) -> String {
    let case = Case::generate(&mut Bytes(u));
    let names = placeholder_names()
        .into_iter()
        .map(|(name, addr)| (name, addr << 16))
        .collect();
    fill(&case.main, &names)
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

/// Fold the numbers of an arbitrary AST into the ranges real stubs use:
/// variable indices below 8, counts below 16, standard places below 5,
/// label references onto declared labels, `alloc` sizes below 4 KiB.
/// Raw `arbitrary` ASTs mostly carry huge indices and stop at E0242 before
/// the dataflow; tamed, they reach every rule.
pub fn tame(stub: &mut Stub) {
    let labels = stub.labels.len() as u32;
    stub.entry.std_places %= 5;
    let var = |v: &mut Var| match v {
        Var::Input(k) | Var::Local(k) | Var::Output(k) => *k %= 8,
        Var::StdPlace(k) => *k %= 5,
        Var::Ret => {}
    };
    let place = |p: &mut Place| var(&mut p.var);
    let operand = |o: &mut Operand| {
        if let OperandKind::Var(v) = &mut o.kind {
            var(v);
        }
    };
    let address = |a: &mut Address| {
        if let Some(b) = &mut a.base {
            place(b);
        }
        if let Some((i, scale)) = &mut a.index {
            place(i);
            *scale = 1 << (*scale % 4);
        }
    };
    let label = |l: &mut LabelRef| {
        if labels > 0 {
            l.id = LabelId(l.id.0 % labels);
        }
    };
    for inst in &mut stub.body {
        match &mut inst.kind {
            InstKind::Label(l) | InstKind::Jump(l) => label(l),
            InstKind::Locals(n) => *n %= 16,
            InstKind::StdPlaces(n) => *n %= 5,
            InstKind::Alloc { dst, size } => {
                place(dst);
                *size %= 4096;
            }
            InstKind::Ts { dst } => place(dst),
            InstKind::Move { dst, src } | InstKind::Unary { dst, src, .. } => {
                place(dst);
                operand(src);
            }
            InstKind::Binary { dst, lhs, rhs, .. } => {
                place(dst);
                operand(lhs);
                operand(rhs);
            }
            InstKind::Handles(o) => operand(o),
            InstKind::Ld { dst, addr, .. } => {
                place(dst);
                address(addr);
            }
            InstKind::St { addr, src } => {
                address(addr);
                operand(src);
            }
            InstKind::Inc { addr } => address(addr),
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => {
                address(addr);
                operand(compare);
                operand(source);
                label(on_fail);
            }
            InstKind::JumpIf { cond, target } => {
                operand(&mut cond.lhs);
                operand(&mut cond.rhs);
                label(target);
            }
            InstKind::Call { target, .. } => operand(target),
            InstKind::PushM2n {
                method, frame_type, ..
            } => {
                method.as_mut().map(operand);
                frame_type.as_mut().map(operand);
            }
            InstKind::Print { operand: o, .. } => {
                o.as_mut().map(operand);
            }
            InstKind::Out(_)
            | InstKind::In2Out { .. }
            | InstKind::Ret
            | InstKind::M2nSaveAll
            | InstKind::PopM2n => {}
        }
    }
}

//! The call-frame information of every stub agrees with its code, on both
//! targets.
//!
//! For each stub, `.debug_frame` is generated, read back with `gimli`, and
//! the CFA rule at every instruction is compared with what the instructions
//! actually do to the stack: a dataflow over the disassembled code's
//! control-flow graph, where `push rbp` / `stp x29, x30, [sp, #-16]!` push
//! the frame record, `mov rbp, rsp` / `mov x29, sp` establish the frame
//! pointer, and `leave` / `ldp x29, x30, [sp], #16` pop it. A row that
//! claims the frame is set up where it is not (or the other way round)
//! would make a debugger or profiler unwind into garbage.

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, LittleEndian, RegisterRule, UnwindContext, UnwindSection,
};
use lil::disasm::{Insn, instructions_at};
use lil::{CompiledStub, HostEnv, Target};
use std::collections::BTreeMap;

const BASE: u64 = 0x7000_0000;

/// The CFA as the CFI describes it: (register, offset).
type Cfa = (u16, i64);

fn cfa_rules(compiled: &CompiledStub) -> BTreeMap<u64, (Cfa, Vec<(u16, i64)>)> {
    let len = compiled.code.len() as u32;
    let bytes = lil::debuginfo::debug_frame(compiled.target, BASE, len, &compiled.unwind)
        .expect("CFI encodes");
    let mut section = DebugFrame::new(&bytes, LittleEndian);
    section.set_address_size(8);
    let bases = BaseAddresses::default();
    let mut ctx = UnwindContext::new();
    let mut out = BTreeMap::new();
    for insn in instructions_at(compiled, BASE) {
        let row = section
            .unwind_info_for_address(&bases, &mut ctx, insn.addr, DebugFrame::cie_from_offset)
            .unwrap_or_else(|err| panic!("no CFI row at {:#x}: {err}", insn.addr));
        let cfa = match row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => (register.0, *offset),
            other => panic!("unexpected CFA rule {other:?}"),
        };
        let saved = row
            .registers()
            .filter_map(|(reg, rule)| match rule {
                RegisterRule::Offset(off) => Some((reg.0, *off)),
                _ => None,
            })
            .collect();
        out.insert(insn.addr, (cfa, saved));
    }
    out
}

/// What an instruction does to the frame, as far as the CFA is concerned.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Effect {
    PushRecord,
    SetFp,
    PopRecord,
    None,
}

fn effect(target: Target, insn: &Insn) -> Effect {
    let t = insn.text.as_str();
    match target {
        Target::X64 if t == "push rbp" => Effect::PushRecord,
        Target::X64 if t == "mov rbp, rsp" => Effect::SetFp,
        Target::X64 if t == "leave" => Effect::PopRecord,
        Target::Arm64 if t.starts_with("stp x29, x30, [sp, #-0x10]!") => Effect::PushRecord,
        Target::Arm64 if t == "mov x29, sp" => Effect::SetFp,
        Target::Arm64 if t.starts_with("ldp x29, x30, [sp], #0x10") => Effect::PopRecord,
        _ => Effect::None,
    }
}

/// Control-flow successors: fall-through and/or a direct branch target.
fn successors(target: Target, insn: &Insn, next: Option<u64>) -> Vec<u64> {
    let m = insn.mnemonic();
    let direct_target = || {
        insn.text
            .split([' ', ',', '#'])
            .filter_map(|w| w.strip_prefix("0x"))
            .filter_map(|h| u64::from_str_radix(h.trim_end_matches('h'), 16).ok())
            .next_back()
    };
    let (falls, branches) = match target {
        Target::X64 => match m {
            "ret" | "ud2" | "int3" => (false, false),
            "jmp" => (false, true),
            _ if m.starts_with('j') => (true, true),
            _ => (true, false),
        },
        Target::Arm64 => match m {
            "ret" | "br" | "udf" | "brk" => (false, false),
            "b" => (false, true),
            "cbz" | "cbnz" | "tbz" | "tbnz" => (true, true),
            _ if m.starts_with("b.") => (true, true),
            _ => (true, false),
        },
    };
    let mut out = Vec::new();
    if falls && let Some(n) = next {
        out.push(n);
    }
    if branches
        && let Some(t) = direct_target()
        && t != insn.addr + insn.bytes.len() as u64
    {
        out.push(t);
    }
    out
}

/// Check that the CFI is consistent with the code of `compiled`.
fn check_cfi(name: &str, compiled: &CompiledStub) {
    let target = compiled.target;
    let insns = instructions_at(compiled, BASE);
    let rules = cfa_rules(compiled);
    let (sp, fp) = match target {
        Target::X64 => (7u16, 6u16),
        Target::Arm64 => (31, 29),
    };
    let entry: Cfa = (sp, if target == Target::X64 { 8 } else { 0 });
    let pushed: Cfa = (sp, 16);
    let framed: Cfa = (fp, 16);
    assert_eq!(rules[&BASE].0, entry, "{name} {target}: entry rule");

    let index: BTreeMap<u64, usize> = insns.iter().enumerate().map(|(k, i)| (i.addr, k)).collect();
    for (k, insn) in insns.iter().enumerate() {
        let here = rules[&insn.addr].0;
        let after = match (effect(target, insn), here) {
            (Effect::PushRecord, cfa) => {
                assert_eq!(
                    cfa, entry,
                    "{name} {target}: frame record pushed twice at {insn:?}"
                );
                pushed
            }
            (Effect::SetFp, cfa) => {
                assert_eq!(
                    cfa, pushed,
                    "{name} {target}: frame pointer set without a record at {insn:?}"
                );
                framed
            }
            (Effect::PopRecord, cfa) => {
                assert_eq!(
                    cfa, framed,
                    "{name} {target}: frame popped that was not set up at {insn:?}"
                );
                entry
            }
            (Effect::None, cfa) => cfa,
        };
        let next = insns.get(k + 1).map(|i| i.addr);
        for succ in successors(target, insn, next) {
            let Some(&j) = index.get(&succ) else {
                panic!(
                    "{name} {target}: branch to {succ:#x} is not an instruction start ({insn:?})"
                );
            };
            let there = rules[&insns[j].addr].0;
            assert_eq!(
                there, after,
                "{name} {target}: CFA after {insn:?} is {after:?} but the CFI at its successor \
                 {succ:#x} says {there:?}\n{insns:#?}"
            );
        }
        // Where the frame is complete, every callee-saved register the
        // frame keeps has a rule, and the return address and frame pointer
        // are in the record.
        if here == framed {
            let saved = &rules[&insn.addr].1;
            assert!(
                saved.contains(&(fp, -16)),
                "{name} {target}: fp rule at {insn:?}"
            );
        }
    }
    // The callee-saved slots are inside the frame, below the record.
    for &(_, slot) in &compiled.unwind.saved {
        assert!(slot <= -24 && slot % 8 == 0, "{name} {target}: slot {slot}");
    }
}

fn stubs() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("frameless", "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;"),
        (
            "call_keeps_local",
            "entry 0:platform:g8:g8; locals 1; l0 = i0; out platform:g8:g8; o0 = i0; \
             call 0x1000; r = r + l0; ret;",
        ),
        (
            "shrink_wrapped",
            "entry 0:platform:g8:g8; jc i0 = 0, slow; r = i0; ret; :slow; \
             out platform::g8; call 0x1000; ret;",
        ),
        (
            "framed_join",
            "entry 0:platform:g8:g8; locals 1; jc i0 = 0, a; l0 = i0; j b; :a; \
             out platform::g8; call 0x1000; l0 = r; :b; r = l0 + i0; ret;",
        ),
        (
            "tailcall_after_call",
            "entry 0:platform:g8:g8; locals 1; l0 = i0; out platform::void; call 0x1000; \
             out platform:g8:g8; o0 = l0; tailcall 0x2000;",
        ),
        (
            "m2n",
            "entry 0:managed:ref:ref; push_m2n 0, handles; handles = i0:pint; in2out platform:ref; \
             call 0x1000; pop_m2n; ret;",
        ),
        (
            "float_locals",
            "entry 0:platform:f8,f8:f8; locals 2; l0 = i0; l1 = i1; out platform::void; \
             call 0x1000; r = l0; ret;",
        ),
        (
            "many_locals",
            "entry 0:platform:g8:g8; locals 8; l0 = i0; l1 = i0; l2 = i0; l3 = i0; l4 = i0; \
             l5 = i0; l6 = i0; l7 = i0; out platform::void; call 0x1000; \
             r = l0 + l1; r = r + l2; r = r + l3; r = r + l4; r = r + l5; r = r + l6; \
             r = r + l7; ret;",
        ),
        (
            "noret",
            "entry 0:platform:g8:void; jc i0 = 0, die; ret; :die; out platform::void; \
             call.noret 0x1000;",
        ),
        (
            "arbitrary",
            "entry 1:managed:arbitrary; locals 1; l0 = sp0; out platform:pint:void; o0 = l0; \
             call 0x1000; tailcall l0;",
        ),
        (
            // Stack probes move the stack pointer in a loop: the CFA must
            // stay frame-pointer based through it.
            "probed",
            "entry 0:platform:g8:g8; locals 2; alloc l0, 20000; l1 = i0; \
             out platform::void; call 0x1000; r = l1; ret;",
        ),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut files: Vec<_> = std::fs::read_dir(examples)
        .expect("the examples directory")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "lil"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the examples are missing");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("an example");
        out.push((path.display().to_string(), text));
    }
    out
}

#[test]
fn cfi_matches_the_code_on_both_targets() {
    let mut framed = 0;
    for (name, text) in stubs() {
        let checked = lil::check_text(&text)
            .unwrap_or_else(|e| panic!("{name} does not check:\n{}", e.render(&name, &text)));
        for target in [Target::X64, Target::Arm64] {
            let compiled = lil::compile_checked_for(target, &checked, &HostEnv::default())
                .unwrap_or_else(|e| panic!("{name} {target}: {e}"));
            check_cfi(&name, &compiled);
            framed += usize::from(!compiled.unwind.is_frameless());
        }
    }
    // The set exercises frames, not only leaf stubs.
    assert!(framed >= 16, "only {framed} framed compilations");
}

#[test]
fn frameless_stubs_have_no_rows_and_framed_ones_record_their_saves() {
    let env = HostEnv::default();
    let leaf = lil::compile_for(Target::X64, "entry 0:platform:g8:g8; r = i0; ret;", &env).unwrap();
    assert!(leaf.unwind.is_frameless());
    let keeps =
        "entry 0:platform:g8:g8; locals 1; l0 = i0; out platform::void; call 0x1000; r = l0; ret;";
    for target in [Target::X64, Target::Arm64] {
        let c = lil::compile_for(target, keeps, &env).unwrap();
        assert_eq!(
            c.unwind.saved.len(),
            1,
            "{target}: one callee-saved register for l0"
        );
        let rules = cfa_rules(&c);
        let reg = lil::codegen::unwind::dwarf_register(target, c.unwind.saved[0].0);
        // At the call the local's register is described as saved in the frame.
        let call = instructions_at(&c, BASE)
            .into_iter()
            .find(|i| matches!(i.mnemonic(), "call" | "blr"))
            .expect("a call");
        assert!(
            rules[&call.addr]
                .1
                .contains(&(reg, i64::from(c.unwind.saved[0].1))),
            "{target}: {:?}",
            rules[&call.addr]
        );
    }
}

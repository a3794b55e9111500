//! Disassembly and listings, through both backends, and on hand-assembled
//! code (exact texts, branch targets, undecodable bytes) that does not
//! change when a backend does.

use lil::codegen::SourceMapEntry;
use lil::disasm::{Insn, disassemble, instructions, listing, listing_at};
use lil::{CompiledStub, HostEnv, Target};

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn texts(insns: &[Insn]) -> Vec<&str> {
    insns.iter().map(|i| i.text.as_str()).collect()
}

/// Entries cover `code` exactly, in address order from `base`.
fn assert_covers(insns: &[Insn], code: &[u8], base: u64) {
    let mut at = 0usize;
    for insn in insns {
        assert_eq!(insn.addr, base + at as u64);
        assert_eq!(insn.bytes[..], code[at..at + insn.bytes.len()]);
        at += insn.bytes.len();
    }
    assert_eq!(at, code.len());
}

#[test]
fn x64_add_stub_mnemonics() {
    let code = lil::compile_for(
        Target::X64,
        "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;",
        &HostEnv::default(),
    )
    .unwrap();
    let insns = instructions(&code);
    let mnemonics: Vec<&str> = insns.iter().map(Insn::mnemonic).collect();
    assert_eq!(mnemonics.last(), Some(&"ret"), "{mnemonics:?}");
    assert!(
        mnemonics.iter().any(|m| *m == "add" || *m == "lea"),
        "{mnemonics:?}"
    );
    assert_covers(&insns, &code.code[..code.data_start as usize], 0);
}

#[test]
fn x64_listing_interleaves_source_lines() {
    let text = "entry 0:platform:g4,g4:g4;\nlocals 1;\nl0 = i0 + i1;\njc l0 = 0, zero;\nr = l0;\nret;\n:zero;\nr = 7;\nret;\n";
    let checked = lil::check_text(text).unwrap();
    let code = lil::compile_checked_for(Target::X64, &checked, &HostEnv::default()).unwrap();
    let out = listing(&code, checked.stub(), text);
    let lines: Vec<&str> = out.lines().collect();
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| *l == needle)
            .unwrap_or_else(|| panic!("no line {needle:?} in\n{out}"))
    };
    // Every source line, in order, instructions without code included.
    let order = [
        "; 1 | entry 0:platform:g4,g4:g4;",
        "; 2 | locals 1;",
        "; 3 | l0 = i0 + i1;",
        "; 4 | jc l0 = 0, zero;",
        "; 5 | r = l0;",
        "; 6 | ret;",
        "; 7 | :zero;",
        "; 8 | r = 7;",
        "; 9 | ret;",
    ]
    .map(pos);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{out}");
    // `locals` and the label produce no code: the next line is a source line.
    assert!(lines[order[1] + 1].starts_with("; "), "{out}");
    assert!(lines[order[6] + 1].starts_with("; "), "{out}");
    // The conditional jump produced a compare and a conditional branch whose
    // target is printed as an absolute address.
    let jc: Vec<&str> = lines[order[3] + 1..order[4]].to_vec();
    assert!(
        jc.iter().any(|l| l.contains("test") || l.contains("cmp")),
        "{out}"
    );
    assert!(
        jc.iter().any(|l| l.contains(" je ") || l.contains(" jz ")),
        "{out}"
    );
    // The instruction lines under `ret;` end with a `ret`.
    assert!(
        lines[order[5] + 1..order[6]]
            .last()
            .unwrap()
            .ends_with(" ret"),
        "{out}"
    );
    assert!(!out.contains("; (data)"), "{out}");
}

#[test]
fn x64_listing_shows_print_strings_as_data() {
    let text = "entry 0:platform:g8:g8; print 'hello', i0; r = i0; ret;";
    let checked = lil::check_text(text).unwrap();
    let env = HostEnv {
        print: Some(0x1000),
        ..HostEnv::default()
    };
    let code = lil::compile_checked_for(Target::X64, &checked, &env).unwrap();
    let out = listing_at(&code, checked.stub(), text, 0x4000);
    let data = out.find("; (data)\n").expect(&out);
    assert!(out[data..].contains("68656c6c6f"), "{out}");
    assert!(out[data..].contains("|hello|"), "{out}");
    assert!(out.contains("; 1 | print 'hello', i0;"), "{out}");
    // Addresses start at the base.
    assert!(out.contains("\n00004000  "), "{out}");
}

#[test]
fn arm64_add_stub_listing() {
    let text = "entry 0:platform:g8,g8:g8;\nlocals 1;\nr = i0 + i1;\nret;\n";
    let checked = lil::check_text(text).unwrap();
    let code = lil::compile_checked_for(Target::Arm64, &checked, &HostEnv::default()).unwrap();
    let insns = instructions(&code);
    let mnemonics: Vec<&str> = insns.iter().map(Insn::mnemonic).collect();
    assert_eq!(mnemonics.last(), Some(&"ret"), "{mnemonics:?}");
    assert!(mnemonics.contains(&"add"), "{mnemonics:?}");
    assert!(
        insns
            .iter()
            .all(|i| i.bytes.len() == 4 && i.text != "(bad)")
    );
    assert_covers(&insns, &code.code[..code.data_start as usize], 0);

    let out = listing_at(&code, checked.stub(), text, 0x1000_0000);
    let add = out.find("; 3 | r = i0 + i1;\n").expect(&out);
    let ret = out.find("; 4 | ret;\n").expect(&out);
    assert!(add < ret, "{out}");
    assert!(out[add..ret].contains("  add x"), "{out}");
    assert!(out.contains("d65f03c0  ret\n"), "{out}");
    assert!(out.contains("\n1000000"), "{out}");
}

#[test]
fn arm64_branch_targets_are_absolute_in_listings() {
    let text = "entry 0:platform:g8:g8;\njc i0 = 0, zero;\nr = i0;\nret;\n:zero;\nr = 7;\nret;\n";
    let checked = lil::check_text(text).unwrap();
    let code = lil::compile_checked_for(Target::Arm64, &checked, &HostEnv::default()).unwrap();
    let insns = lil::disasm::instructions_at(&code, 0x4000);
    let branch = insns
        .iter()
        .find(|i| i.mnemonic().starts_with("b.") || i.mnemonic().starts_with("cb"))
        .unwrap_or_else(|| panic!("no conditional branch in {insns:#?}"));
    assert!(!branch.text.contains('$'), "{}", branch.text);
    let target = branch.text.rsplit(' ').next().unwrap();
    let target = u64::from_str_radix(target.trim_start_matches("0x"), 16).unwrap();
    assert!(target > branch.addr && target < 0x4000 + code.code.len() as u64);
}

#[test]
fn arm64_decodes_hand_assembled_words() {
    let code = words(&[
        0xd65f03c0, // ret
        0x54000041, // b.ne +8
        0x17fffffe, // b -8
        0xb0000000, // adrp x0, +1 page
        0xb4000081, // cbz x1, +0x10
        0x8b010000, // add x0, x0, x1
        0xffffffff, // not an instruction
    ]);
    let insns = disassemble(Target::Arm64, &code, 0x1000);
    assert_eq!(
        texts(&insns),
        [
            "ret",
            "b.ne 0x100c",
            "b 0x1000",
            "adrp x0, 0x2000",
            "cbz x1, 0x1020",
            "add x0, x0, x1",
            "(bad)",
        ]
    );
    assert_eq!(insns[1].mnemonic(), "b.ne");
    assert_covers(&insns, &code, 0x1000);
}

#[test]
fn arm64_trailing_partial_word_is_bad() {
    let mut code = words(&[0xd65f03c0]);
    code.extend([0x12, 0x34]);
    let insns = disassemble(Target::Arm64, &code, 0);
    assert_eq!(texts(&insns), ["ret", "(bad)"]);
    assert_covers(&insns, &code, 0);
}

#[test]
fn x64_undecodable_bytes_are_bad_and_covered() {
    // 0x06 is `push es`, invalid in 64-bit mode.
    let code = [0x06, 0xc3];
    let insns = disassemble(Target::X64, &code, 0);
    assert_eq!(texts(&insns), ["(bad)", "ret"]);
    assert_covers(&insns, &code, 0);
}

/// A hand-built AArch64 stub: 4 bytes of prologue the source map does not
/// attribute, `locals` with no code, one instruction, `ret`, and data.
#[test]
fn arm64_listing_of_a_hand_built_stub() {
    let text = "entry 0:platform:g8,g8:g8;\nlocals 1;\nr = i0 + i1;\nret;\n";
    let stub = lil::syntax::parse(text).unwrap();
    let mut code = words(&[
        0xa9bf7bfd, // stp x29, x30, [sp, #-0x10]!
        0x8b010000, // add x0, x0, x1
        0xa8c17bfd, // ldp x29, x30, [sp], #0x10
        0xd65f03c0, // ret
    ]);
    code.extend(b"hi");
    let compiled = CompiledStub {
        target: Target::Arm64,
        code,
        source_map: vec![
            SourceMapEntry {
                instruction: 1,
                code: 4..8,
            },
            SourceMapEntry {
                instruction: 2,
                code: 8..16,
            },
        ],
        data_start: 16,
        unwind: Default::default(),
    };
    let out = listing_at(&compiled, &stub, text, 0x1000_0000);
    assert_eq!(
        out,
        "\
; arm64 code, 18 bytes (16 of instructions)
; 1 | entry 0:platform:g8,g8:g8;
; (prologue/edge)
10000000  a9bf7bfd  stp x29, x30, [sp, #-0x10]!
; 2 | locals 1;
; 3 | r = i0 + i1;
10000004  8b010000  add x0, x0, x1
; 4 | ret;
10000008  a8c17bfd  ldp x29, x30, [sp], #0x10
1000000c  d65f03c0  ret
; (data)
10000010  6869                              |hi|
"
    );
    assert_eq!(instructions(&compiled).len(), 4);
}

/// Spans that do not point into the text (a stub built in code, or a wrong
/// source passed in) fall back to the canonical printer.
#[test]
fn listing_without_source_uses_canonical_text() {
    let text = "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;";
    let checked = lil::check_text(text).unwrap();
    let code = lil::compile_checked_for(Target::X64, &checked, &HostEnv::default()).unwrap();
    let out = listing(&code, checked.stub(), "");
    assert!(out.contains("; entry 0:platform:g4,g4:g4;\n"), "{out}");
    assert!(out.contains("; r = i0 + i1;\n"), "{out}");
    assert!(out.contains("; ret;\n"), "{out}");
}

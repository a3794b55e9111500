//! Encoding tests: for small stubs, the exact instructions each backend
//! emits (disassembled), and snapshots of the paper's figures.
//!
//! A change in generated code shows up here in review. The table lists one
//! stub per instruction form; the expected text is the disassembly
//! (iced-x86 Intel syntax, yaxpeax-arm) of the whole stub.

use lil::codegen::ThreadPointer;
use lil::{HostEnv, Target};

fn env() -> HostEnv {
    HostEnv::new(ThreadPointer::TlsSlot { offset: 0x40 }, 8)
}

fn disasm(target: Target, text: &str) -> Vec<String> {
    let stub = lil_check::assert_valid(text);
    let code = lil::compile_checked_for(target, &stub, &env()).expect("compiles");
    lil::disasm::instructions(&code)
        .into_iter()
        .map(|i| i.text)
        .collect()
}

/// (stub, x86-64 instructions, AArch64 instructions)
const TABLE: &[(&str, &[&str], &[&str])] = &[
    (
        "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;",
        &["mov rax, rdi", "add rax, rsi", "ret"],
        &["add x8, x0, x1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 - i1; ret;",
        &["mov rax, rdi", "sub rax, rsi", "ret"],
        &["sub x8, x0, x1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 * i1; ret;",
        &["mov rax, rdi", "imul rax, rsi", "ret"],
        &["mul x8, x0, x1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = i0 & 0xff; ret;",
        &["mov rax, rdi", "and rax, 0xff", "ret"],
        &["mov x14, #0xff", "and x8, x0, x14", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = i0 | 0x123456789; ret;",
        &["mov rax, rdi", "mov r10, 0x123456789", "or rax, r10", "ret"],
        &[
            "mov x14, #0x6789",
            "movk x14, #0x2345, lsl #16",
            "movk x14, #0x1, lsl #32",
            "orr x8, x0, x14",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 ^ i1; ret;",
        &["mov rax, rdi", "xor rax, rsi", "ret"],
        &["eor x8, x0, x1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g4:g4; r = i0 << 3; ret;",
        &["mov rax, rdi", "shl eax, 3", "ret"],
        &["lsl w8, w0, #0x3", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 >> i1; ret;",
        &[
            "mov r11, rdi",
            "mov r10, rcx",
            "mov rcx, rsi",
            "sar r11, cl",
            "mov rcx, r10",
            "mov rax, r11",
            "ret",
        ],
        &["asr x8, x0, x1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g1,g1:g1; r = i0 >>u i1; ret;",
        &[
            "mov r11, rdi",
            "movzx r11d, r11b",
            "mov r10, rcx",
            "mov rcx, rsi",
            "shr r11d, cl",
            "mov rcx, r10",
            "mov rax, r11",
            "ret",
        ],
        &["uxtb w15, w0", "lsr w8, w15, w1", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = neg i0; ret;",
        &["mov rax, rdi", "neg rax", "ret"],
        &["neg x8, x0", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = not i0; ret;",
        &["mov rax, rdi", "not rax", "ret"],
        &["mvn x8, x0", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g1:pint; r = sx1 i0; ret;",
        &["movsx rax, dil", "ret"],
        &["sxtb x8, w0", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:g4:pint; r = zx4 i0; ret;",
        &["mov eax, edi", "ret"],
        &["mov w8, w0", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:pint:pint; ld r, [i0+8:g2], sx; ret;",
        &["movsx rax, word ptr [rdi+8]", "ret"],
        &["ldrsh x8, [x0, #0x8]", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:pint:g4; ld r, [i0+4:g4,acquire]; ret;",
        &["mov eax, [rdi+4]", "ret"],
        &["add x16, x0, #0x4", "ldar w8, [x16]", "mov x0, x8", "ret"],
    ),
    (
        "entry 0:platform:pint,pint:pint; ld r, [i0+i1*8+16:pint]; ret;",
        &["mov rax, [rdi+rsi*8+0x10]", "ret"],
        &[
            "add x16, x0, #0x10",
            "ldr x8, [x16, x1, lsl #3]",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint,g1:void; st [i0+1:g1], i1; ret;",
        &["mov [rdi+1], sil", "ret"],
        &["strb w1, [x0, #0x1]", "ret"],
    ),
    (
        "entry 0:platform:pint:void; st [i0+0:g8,release], 0x1122334455667788; ret;",
        &["mov r10, 0x1122334455667788", "mov [rdi], r10", "ret"],
        &[
            "mov x15, #0x7788",
            "movk x15, #0x5566, lsl #16",
            "movk x15, #0x3344, lsl #32",
            "movk x15, #0x1122, lsl #48",
            "stlr x15, [x0]",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:void; inc [i0+8:g4]; ret;",
        &["inc dword ptr [rdi+8]", "ret"],
        &[
            "add x16, x0, #0x8",
            "ldr w15, [x16]",
            "add x15, x15, #0x1",
            "str w15, [x16]",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint,g4,g4:g4; cas [i0+0:g4] = i1, i2, busy; r = 1; ret; :busy; r = 0; ret;",
        &[
            "mov rax, rsi",
            "lock cmpxchg [rdi], edx",
            "jne 0x17",
            "mov eax, 1",
            "ret",
            "xor eax, eax",
            "ret",
        ],
        &[
            "mov x15, x1",
            "ldaxr w17, [x0]",
            "cmp w17, w15",
            "b.ne 0x24",
            "stlxr w17, w2, [x0]",
            "cbnz w17, 0x4",
            "mov x8, #0x1",
            "mov x0, x8",
            "ret",
            "mov x8, xzr",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g8,g8:g8; jc i0 <u i1, less; r = 0; ret; :less; r = 1; ret;",
        &[
            "cmp rdi, rsi",
            "jb 0xd",
            "xor eax, eax",
            "ret",
            "mov eax, 1",
            "ret",
        ],
        &[
            "cmp x0, x1",
            "b.lo 0x14",
            "mov x8, xzr",
            "mov x0, x8",
            "ret",
            "mov x8, #0x1",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g1:g4; jc 5 < i0, big; r = 0; ret; :big; r = 1; ret;",
        &[
            "cmp dil, 5",
            "jg 0xe",
            "xor eax, eax",
            "ret",
            "mov eax, 1",
            "ret",
        ],
        &[
            "sxtb w15, w0",
            "cmp w15, #0x5",
            "b.gt 0x18",
            "mov x8, xzr",
            "mov x0, x8",
            "ret",
            "mov x8, #0x1",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:void; out platform:pint:void; o0 = i0; call 0x1000; ret;",
        &[
            "push rbp",
            "mov rbp, rsp",
            "mov r11d, 0x1000",
            "call r11",
            "leave",
            "ret",
        ],
        &[
            "stp x29, x30, [sp, #-0x10]!",
            "mov x29, sp",
            "mov x16, #0x1000",
            "blr x16",
            "mov sp, x29",
            "ldp x29, x30, [sp], #0x10",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:void; out platform::void; call.noret i0;",
        &["push rbp", "mov rbp, rsp", "call rdi"],
        &["stp x29, x30, [sp, #-0x10]!", "mov x29, sp", "blr x0"],
    ),
    (
        "entry 0:platform:pint:void; tailcall 0x1000;",
        &["mov eax, 0x1000", "jmp rax"],
        &["mov x16, #0x1000", "br x16"],
    ),
    (
        "entry 4:handler::void; locals 1; ld l0, [sp1+0:g1], zx; sp1 = sp1 + 1; ld l0, [sp0+l0*8:pint]; tailcall l0;",
        &[
            "movzx ecx, byte ptr [r11]",
            "add r11, 1",
            "mov rcx, [r10+rcx*8]",
            "jmp rcx",
        ],
        &[
            "ldrb w13, [x10]",
            "add x10, x10, #0x1",
            "ldr x13, [x9, x13, lsl #3]",
            "br x13",
        ],
    ),
    (
        "entry 0:platform::pint; locals 1; l0 = ts; r = l0; ret;",
        &["mov rcx, fs:[0x40]", "mov rax, rcx", "ret"],
        &[
            "mrs x16, tpidr_el0",
            "ldr x13, [x16, #0x40]",
            "mov x8, x13",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:f8:f8; r = i0; ret;",
        &["movaps xmm8, xmm0", "movaps xmm0, xmm8", "ret"],
        &["fmov d16, d0", "fmov d0, d16", "ret"],
    ),
    (
        "entry 0:platform:pint:f4; ld r, [i0+0:f4]; ret;",
        &["movss xmm8, [rdi]", "movaps xmm0, xmm8", "ret"],
        &["ldr s16, [x0]", "fmov d0, d16", "ret"],
    ),
    (
        "entry 0:platform:pint:pint; ld r, [i0+0x12345678:pint]; ret;",
        &["mov rax, [rdi+0x12345678]", "ret"],
        &[
            "mov x17, #0x5678",
            "movk x17, #0x1234, lsl #16",
            "ldr x8, [x0, x17]",
            "mov x0, x8",
            "ret",
        ],
    ),
];

#[test]
fn each_form_encodes_as_listed() {
    let mut failures = Vec::new();
    for (text, x64, arm64) in TABLE {
        for (target, expected) in [(Target::X64, x64), (Target::Arm64, arm64)] {
            let got = disasm(target, text);
            if got != *expected {
                failures.push(format!(
                    "{target}: {text}\n  expected {expected:?}\n  got      {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The listing (LIL lines interleaved with their code) of an example file.
fn listing(target: Target, path: &str) -> String {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    let source = std::fs::read_to_string(&file).expect("example file");
    let stub = lil_check::assert_valid(&source);
    let code = lil::compile_checked_for(target, &stub, &env()).expect("compiles");
    lil::disasm::listing(&code, stub.stub(), &source)
}

#[test]
fn figure1_listings() {
    insta::assert_snapshot!(
        "figure1_x64",
        listing(Target::X64, "examples/figure1_alloc.lil")
    );
    insta::assert_snapshot!(
        "figure1_arm64",
        listing(Target::Arm64, "examples/figure1_alloc.lil")
    );
}

#[test]
fn figure3_listings() {
    insta::assert_snapshot!(
        "figure3_x64",
        listing(Target::X64, "examples/figure3_jni_pow.lil")
    );
    insta::assert_snapshot!(
        "figure3_arm64",
        listing(Target::Arm64, "examples/figure3_jni_pow.lil")
    );
}

#[test]
fn compile_me_listings() {
    insta::assert_snapshot!(
        "compile_me_x64",
        listing(Target::X64, "examples/compile_me.lil")
    );
    insta::assert_snapshot!(
        "compile_me_arm64",
        listing(Target::Arm64, "examples/compile_me.lil")
    );
}

#[test]
fn fast_paths_set_up_no_frame() {
    // Figure 1's fast path (up to its `ret`) has no prologue on either target.
    for (target, frame_insn) in [(Target::X64, "push rbp"), (Target::Arm64, "stp x29, x30")] {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/figure1_alloc.lil"),
        )
        .expect("example file");
        let stub = lil_check::assert_valid(&source);
        let code = lil::compile_checked_for(target, &stub, &env()).expect("compiles");
        let insns = lil::disasm::instructions(&code);
        let first_ret = insns.iter().position(|i| i.text == "ret").expect("a ret");
        assert!(
            insns[..first_ret]
                .iter()
                .all(|i| !i.text.starts_with(frame_insn)),
            "{target}: the fast path sets up a frame"
        );
        // ts, two loads, widen, add, compare, branch, two stores, ret (+ the
        // move of r into x0 on AArch64).
        let expected = if target == Target::X64 { 10 } else { 12 };
        assert_eq!(
            first_ret + 1,
            expected,
            "{target}: {:#?}",
            &insns[..=first_ret]
        );
    }
}

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
        // A frame of a page or more: stack probes, one page per iteration.
        "entry 0:platform:g8:g8; locals 1; alloc l0, 8192; st [l0+0:g8], i0; \
         ld r, [l0+0:g8]; ret;",
        &[
            "push rbp",
            "mov rbp, rsp",
            "push rax",
            "mov eax, 2",
            "sub rsp, 0x1000",
            "test [rsp], esp",
            "dec eax",
            "jne 0xa",
            "mov rax, [rbp-8]",
            "lea rsp, [rbp-0x2000]",
            "mov [rsp], rdi",
            "mov rax, [rsp]",
            "leave",
            "ret",
        ],
        &[
            "stp x29, x30, [sp, #-0x10]!",
            "mov x29, sp",
            "mov x17, #0x2",
            "sub sp, sp, #0x1, lsl #12",
            "str xzr, [sp]",
            "subs x17, x17, #0x1",
            "b.ne 0xc",
            "sub sp, x29, #0x2, lsl #12",
            "str x0, [sp]",
            "ldr x0, [sp]",
            "mov sp, x29",
            "ldp x29, x30, [sp], #0x10",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 + i1; ret;",
        &["mov rax, rdi", "add rax, rsi", "ret"],
        &["add x0, x0, x1", "ret"],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 - i1; ret;",
        &["mov rax, rdi", "sub rax, rsi", "ret"],
        &["sub x0, x0, x1", "ret"],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 * i1; ret;",
        &["mov rax, rdi", "imul rax, rsi", "ret"],
        &["mul x0, x0, x1", "ret"],
    ),
    (
        // A bitmask immediate on AArch64.
        "entry 0:platform:g8:g8; r = i0 & 0xff; ret;",
        &["mov rax, rdi", "and rax, 0xff", "ret"],
        &["and x0, x0, #0xff", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = i0 ^ 0xf0f0f0f0f0f0f0f0; ret;",
        &[
            "mov rax, rdi",
            "mov r10, 0xf0f0f0f0f0f0f0f0",
            "xor rax, r10",
            "ret",
        ],
        &["eor x0, x0, #0xf0f0f0f0f0f0f0f0", "ret"],
    ),
    (
        // Not a bitmask immediate (two runs of ones): through a register.
        "entry 0:platform:g8:g8; r = i0 & 0xf0f; ret;",
        &["mov rax, rdi", "and rax, 0xf0f", "ret"],
        &["mov x14, #0xf0f", "and x0, x0, x14", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = i0 | 0x123456789; ret;",
        &["mov rax, rdi", "mov r10, 0x123456789", "or rax, r10", "ret"],
        &[
            "mov x14, #0x6789",
            "movk x14, #0x2345, lsl #16",
            "movk x14, #0x1, lsl #32",
            "orr x0, x0, x14",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g8,g8:g8; r = i0 ^ i1; ret;",
        &["mov rax, rdi", "xor rax, rsi", "ret"],
        &["eor x0, x0, x1", "ret"],
    ),
    (
        "entry 0:platform:g4:g4; r = i0 << 3; ret;",
        &["mov rax, rdi", "shl eax, 3", "ret"],
        &["lsl w0, w0, #0x3", "ret"],
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
        &["asr x0, x0, x1", "ret"],
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
        &["uxtb w15, w0", "lsr w0, w15, w1", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = neg i0; ret;",
        &["mov rax, rdi", "neg rax", "ret"],
        &["neg x0, x0", "ret"],
    ),
    (
        "entry 0:platform:g8:g8; r = not i0; ret;",
        &["mov rax, rdi", "not rax", "ret"],
        &["mvn x0, x0", "ret"],
    ),
    (
        "entry 0:platform:g1:pint; r = sx1 i0; ret;",
        &["movsx rax, dil", "ret"],
        &["sxtb x0, w0", "ret"],
    ),
    (
        "entry 0:platform:g4:pint; r = zx4 i0; ret;",
        &["mov eax, edi", "ret"],
        &["mov w0, w0", "ret"],
    ),
    (
        "entry 0:platform:pint:pint; ld r, [i0+8:g2], sx; ret;",
        &["movsx rax, word ptr [rdi+8]", "ret"],
        &["ldrsh x0, [x0, #0x8]", "ret"],
    ),
    (
        "entry 0:platform:pint:g4; ld r, [i0+4:g4,acquire]; ret;",
        &["mov eax, [rdi+4]", "ret"],
        &["add x16, x0, #0x4", "ldar w0, [x16]", "ret"],
    ),
    (
        "entry 0:platform:pint,pint:pint; ld r, [i0+i1*8+16:pint]; ret;",
        &["mov rax, [rdi+rsi*8+0x10]", "ret"],
        &["add x16, x0, #0x10", "ldr x0, [x16, x1, lsl #3]", "ret"],
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
            "b.ne 0x20",
            "stlxr w17, w2, [x0]",
            "cbnz w17, 0x4",
            "mov x0, #0x1",
            "ret",
            "mov x0, xzr",
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
            "b.lo 0x10",
            "mov x0, xzr",
            "ret",
            "mov x0, #0x1",
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
            "b.gt 0x14",
            "mov x0, xzr",
            "ret",
            "mov x0, #0x1",
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
            "mov x0, x13",
            "ret",
        ],
    ),
    ("entry 0:platform:f8:f8; r = i0; ret;", &["ret"], &["ret"]),
    (
        "entry 0:platform:pint:f4; ld r, [i0+0:f4]; ret;",
        &["movss xmm0, [rdi]", "ret"],
        &["ldr s0, [x0]", "ret"],
    ),
    (
        "entry 0:platform:pint:pint; ld r, [i0+0x12345678:pint]; ret;",
        &["mov rax, [rdi+0x12345678]", "ret"],
        &[
            "mov x17, #0x5678",
            "movk x17, #0x1234, lsl #16",
            "ldr x0, [x0, x17]",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint,g8:g4; locals 1; ld l0, [i0+8:g8]; jc i1 >u l0, big; r = 0; ret; :big; r = 1; ret;",
        &[
            "cmp rsi, [rdi+8]",
            "ja 0xf",
            "xor eax, eax",
            "ret",
            "mov eax, 1",
            "ret",
        ],
        &[
            "ldr x13, [x0, #0x8]",
            "cmp x1, x13",
            "b.hi 0x14",
            "mov x0, xzr",
            "ret",
            "mov x0, #0x1",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:g4; locals 1; ld l0, [i0+16:pint]; jc l0 = 0, zero; r = 1; ret; :zero; r = 0; ret;",
        &[
            "cmp qword ptr [rdi+0x10], 0",
            "je 0x16",
            "mov eax, 1",
            "ret",
            "xor eax, eax",
            "ret",
        ],
        &[
            "ldr x13, [x0, #0x10]",
            "cbz x13, 0x10",
            "mov x0, #0x1",
            "ret",
            "mov x0, xzr",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:g4; locals 1; ld l0, [i0+0:pint]; jc l0 != 0x123456789, no; r = 1; ret; :no; r = 0; ret;",
        &[
            "mov r10, 0x123456789",
            "cmp [rdi], r10",
            "jne 0x1c",
            "mov eax, 1",
            "ret",
            "xor eax, eax",
            "ret",
        ],
        &[
            "ldr x13, [x0]",
            "mov x14, #0x6789",
            "movk x14, #0x2345, lsl #16",
            "movk x14, #0x1, lsl #32",
            "cmp x13, x14",
            "b.ne 0x20",
            "mov x0, #0x1",
            "ret",
            "mov x0, xzr",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:g8; locals 1; ld r, [i0+8:g8]; ld l0, [i0+16:g8]; r = r + l0; ret;",
        &[
            "mov rax, [rdi+8]",
            "mov rcx, [rdi+0x10]",
            "add rax, rcx",
            "ret",
        ],
        &[
            "ldp x8, x13, [x0, #0x8]",
            "add x8, x8, x13",
            "mov x0, x8",
            "ret",
        ],
    ),
    (
        "entry 0:platform:pint:f8; locals 1; ld l0, [i0+8:f8]; ld r, [i0+0:f8]; st [i0+16:f8], l0; ret;",
        &[
            "movsd xmm9, [rdi+8]",
            "movsd xmm0, [rdi]",
            "movsd [rdi+0x10], xmm9",
            "ret",
        ],
        &["ldp d0, d17, [x0]", "str d17, [x0, #0x10]", "ret"],
    ),
    (
        "entry 0:platform:pint,g8:void; st [i0+0:g8], i1; st [i0+8:g8], 0; ret;",
        &["mov [rdi], rsi", "mov qword ptr [rdi+8], 0", "ret"],
        &["stp x1, xzr, [x0]", "ret"],
    ),
    (
        "entry 0:platform:pint,f8,f8:void; st [i0+8:f8], i2; st [i0+0:f8], i1; ret;",
        &["movsd [rdi+8], xmm1", "movsd [rdi], xmm0", "ret"],
        &["stp d0, d1, [x0]", "ret"],
    ),
    (
        "entry 0:platform:pint,g4:pint; locals 1; l0 = zx4 i1; r = i0 + l0; ret;",
        &["mov ecx, esi", "mov rax, rdi", "add rax, rcx", "ret"],
        &["add x0, x0, w1", "ret"],
    ),
    (
        "entry 0:platform:pint,g2:pint; locals 1; l0 = sx2 i1; r = i0 - l0; ret;",
        &["movsx rcx, si", "mov rax, rdi", "sub rax, rcx", "ret"],
        &["sub x0, x0, w1, sxth", "ret"],
    ),
    (
        "entry 0:platform:pint,g8:g4; cas [i0+0:g8] = 0, i1, busy; r = 1; ret; :busy; r = 0; ret;",
        &[
            "xor eax, eax",
            "lock cmpxchg [rdi], rsi",
            "jne 0x17",
            "mov eax, 1",
            "ret",
            "xor eax, eax",
            "ret",
        ],
        &[
            "ldaxr x17, [x0]",
            "cbnz x17, 0x18",
            "stlxr w17, x1, [x0]",
            "cbnz w17, 0x0",
            "mov x0, #0x1",
            "ret",
            "mov x0, xzr",
            "ret",
        ],
    ),
    (
        "entry 0:platform:g8:g8; locals 1; alloc l0, 16; st [l0+8:g8], i0; out platform:pint:void; o0 = l0; call 0x1000; ld r, [l0+8:g8]; ret;",
        &[
            "push rbp",
            "mov rbp, rsp",
            "sub rsp, 0x10",
            "mov [rsp+8], rdi",
            "lea rdi, [rsp]",
            "mov r11d, 0x1000",
            "call r11",
            "mov rax, [rsp+8]",
            "leave",
            "ret",
        ],
        &[
            "stp x29, x30, [sp, #-0x10]!",
            "mov x29, sp",
            "sub sp, sp, #0x10",
            "str x0, [sp, #0x8]",
            "mov x0, sp",
            "mov x16, #0x1000",
            "blr x16",
            "ldr x0, [sp, #0x8]",
            "mov sp, x29",
            "ldp x29, x30, [sp], #0x10",
            "ret",
        ],
    ),
    (
        "entry 1:managed:arbitrary; locals 1; out platform:pint:pint; o0 = sp0; call 0x1000; l0 = r; tailcall l0;",
        &[
            "push rbp",
            "mov rbp, rsp",
            "sub rsp, 0x70",
            "mov [rsp], rdi",
            "mov [rsp+8], rsi",
            "mov [rsp+0x10], rdx",
            "mov [rsp+0x18], rcx",
            "mov [rsp+0x20], r8",
            "mov [rsp+0x28], r9",
            "movsd [rsp+0x30], xmm0",
            "movsd [rsp+0x38], xmm1",
            "movsd [rsp+0x40], xmm2",
            "movsd [rsp+0x48], xmm3",
            "movsd [rsp+0x50], xmm4",
            "movsd [rsp+0x58], xmm5",
            "movsd [rsp+0x60], xmm6",
            "movsd [rsp+0x68], xmm7",
            "mov rdi, r10",
            "mov esi, 0x1000",
            "call rsi",
            "mov r11, rax",
            "mov rdi, [rsp]",
            "mov rsi, [rsp+8]",
            "mov rdx, [rsp+0x10]",
            "mov rcx, [rsp+0x18]",
            "mov r8, [rsp+0x20]",
            "mov r9, [rsp+0x28]",
            "movsd xmm0, [rsp+0x30]",
            "movsd xmm1, [rsp+0x38]",
            "movsd xmm2, [rsp+0x40]",
            "movsd xmm3, [rsp+0x48]",
            "movsd xmm4, [rsp+0x50]",
            "movsd xmm5, [rsp+0x58]",
            "movsd xmm6, [rsp+0x60]",
            "movsd xmm7, [rsp+0x68]",
            "leave",
            "jmp r11",
        ],
        &[
            "stp x29, x30, [sp, #-0x10]!",
            "mov x29, sp",
            "sub sp, sp, #0x80",
            "stp x0, x1, [sp]",
            "stp x2, x3, [sp, #0x10]",
            "stp x4, x5, [sp, #0x20]",
            "stp x6, x7, [sp, #0x30]",
            "stp d0, d1, [sp, #0x40]",
            "stp d2, d3, [sp, #0x50]",
            "stp d4, d5, [sp, #0x60]",
            "stp d6, d7, [sp, #0x70]",
            "mov x0, x9",
            "mov x16, #0x1000",
            "blr x16",
            "mov x13, x0",
            "ldp x0, x1, [sp]",
            "ldp x2, x3, [sp, #0x10]",
            "ldp x4, x5, [sp, #0x20]",
            "ldp x6, x7, [sp, #0x30]",
            "ldp d0, d1, [sp, #0x40]",
            "ldp d2, d3, [sp, #0x50]",
            "ldp d4, d5, [sp, #0x60]",
            "ldp d6, d7, [sp, #0x70]",
            "mov sp, x29",
            "ldp x29, x30, [sp], #0x10",
            "br x13",
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
        // x86-64: ts, load, widen, add, compare with the limit in memory,
        // branch, two stores, ret. AArch64: ts (two), both loads as one ldp,
        // add with the widening folded in, compare, branch, two stores, the
        // move of r into x0, ret.
        let expected = if target == Target::X64 { 9 } else { 10 };
        assert_eq!(
            first_ret + 1,
            expected,
            "{target}: {:#?}",
            &insns[..=first_ret]
        );
    }
}

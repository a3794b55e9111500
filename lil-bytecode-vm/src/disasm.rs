//! Disassembly of the generated stubs, and the two facts the tests check
//! on it: how many instructions a dispatch takes, and whether a handler
//! touches the machine stack.
//!
//! x86-64 is decoded by `iced-x86` (Intel syntax), AArch64 by
//! `yaxpeax-arm`. Invariant: decoding never panics; undecodable bytes
//! become a `(bad)` entry covering them.

use std::ops::Range;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
use lil_codegen::Target;
use yaxpeax_arch::{Decoder as _, U8Reader};

/// One machine instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Offset in the code.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Assembly text (lower case, `(bad)` if it does not decode).
    pub text: String,
}

impl Insn {
    /// The mnemonic.
    pub fn mnemonic(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or("")
    }

    /// The byte range it occupies.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Decode `code` for `target`, the first byte at offset 0.
pub fn disassemble(target: Target, code: &[u8]) -> Vec<Insn> {
    match target {
        Target::X64 => {
            let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
            let mut formatter = IntelFormatter::new();
            let mut out = Vec::new();
            for insn in &mut decoder {
                let mut text = String::new();
                if insn.is_invalid() {
                    text.push_str("(bad)");
                } else {
                    formatter.format(&insn, &mut text);
                }
                out.push(Insn {
                    offset: insn.ip() as usize,
                    len: insn.len(),
                    text,
                });
            }
            out
        }
        Target::Arm64 => {
            let decoder = yaxpeax_arm::armv8::a64::InstDecoder::default();
            code.chunks(4)
                .enumerate()
                .map(|(i, word)| {
                    let mut reader = U8Reader::new(word);
                    let text = match decoder.decode(&mut reader) {
                        Ok(insn) if word.len() == 4 => insn.to_string(),
                        _ => "(bad)".to_string(),
                    };
                    Insn {
                        offset: 4 * i,
                        len: word.len(),
                        text,
                    }
                })
                .collect()
        }
    }
}

/// The instructions of `all` that lie inside any of `ranges`.
pub fn within(all: &[Insn], ranges: &[Range<usize>]) -> Vec<Insn> {
    all.iter()
        .filter(|i| {
            ranges
                .iter()
                .any(|r| r.start <= i.offset && i.offset + i.len <= r.end)
        })
        .cloned()
        .collect()
}

/// Whether `insn` uses the machine stack or frame: names the stack or frame
/// pointer (or, on AArch64, the link register), or pushes, pops, calls or
/// returns.
pub fn touches_stack(target: Target, insn: &Insn) -> bool {
    let (registers, mnemonics): (&[&str], &[&str]) = match target {
        Target::X64 => (
            &["rsp", "esp", "sp", "spl", "rbp", "ebp", "bp", "bpl"],
            &[
                "push", "pop", "pushf", "pushfq", "popf", "popfq", "call", "ret", "enter", "leave",
            ],
        ),
        Target::Arm64 => (
            &["sp", "wsp", "x29", "w29", "fp", "x30", "w30", "lr"],
            &["bl", "blr", "ret", "blraa", "retaa"],
        ),
    };
    let text = insn.text.to_ascii_lowercase();
    let mut words = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    let mnemonic = words.next().unwrap_or("");
    mnemonics.contains(&mnemonic) || words.any(|w| registers.contains(&w))
}

/// Whether `insn` is an indirect jump through a register (`jmp reg`,
/// `br xN`): the end of a dispatch.
pub fn is_indirect_jump(target: Target, insn: &Insn) -> bool {
    match target {
        Target::X64 => {
            insn.mnemonic() == "jmp"
                && !insn.text.contains('[')
                && !insn
                    .text
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|t| t.ends_with('h') || t.chars().all(|c| c.is_ascii_hexdigit()))
        }
        Target::Arm64 => insn.mnemonic() == "br",
    }
}

/// Whether `insn` reads memory (a load of any width).
pub fn is_load(target: Target, insn: &Insn) -> bool {
    match target {
        Target::X64 => {
            // A load is a move/extension whose source (second operand) is memory.
            matches!(insn.mnemonic(), "mov" | "movzx" | "movsx" | "movsxd")
                && insn
                    .text
                    .split_once(',')
                    .is_some_and(|(_, src)| src.contains('['))
        }
        Target::Arm64 => insn.mnemonic().starts_with("ld"),
    }
}

/// A listing of a generated stub: its LIL (canonical form, run-time
/// constants filled in), then its machine code, one instruction per line,
/// with the dispatch sequences marked `|`.
pub fn listing(target: Target, stub: &crate::GeneratedStub) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "== {} ({target:?})", stub.name());
    let text = stub.checked.stub().to_string();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let _ = writeln!(out, "    {line}");
    }
    let code = &stub.code.code[..(stub.code.data_start as usize).min(stub.code.code.len())];
    let dispatch: Vec<Range<usize>> = stub.dispatch_code().into_iter().flatten().collect();
    for insn in disassemble(target, code) {
        let mark = if within(std::slice::from_ref(&insn), &dispatch).is_empty() {
            ' '
        } else {
            '|'
        };
        let _ = writeln!(out, "  {:4x} {mark} {}", insn.offset, insn.text);
    }
    out
}

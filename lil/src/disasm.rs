//! Disassembly of generated code for both targets, and listings that put
//! each LIL instruction above the machine instructions it produced.
//!
//! x86-64 is decoded by `iced-x86` (Intel syntax), AArch64 by `yaxpeax-arm`;
//! AArch64 branch and `adr`/`adrp` targets are rewritten from yaxpeax's
//! relative `$+0x10` form to absolute addresses computed from the
//! instruction's address, as iced already prints them on x86-64.
//!
//! Invariant: disassembly never panics and never loses bytes. Bytes that do
//! not decode become one `(bad)` entry (x86-64: as long as the decoder says;
//! AArch64: one 4-byte word), so the entries of [`disassemble`] always
//! cover the input exactly, in address order.

use std::fmt::Write as _;

use lil_codegen::{CompiledStub, Target};
use lil_syntax::{Stub, span::line_col};

/// One decoded machine instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Its address (the base passed in plus its offset in the code).
    pub addr: u64,
    /// Its encoding.
    pub bytes: Vec<u8>,
    /// Assembly text: lower-case mnemonic and operands, absolute branch
    /// targets, or `(bad)` for bytes that do not decode.
    pub text: String,
}

impl Insn {
    /// The mnemonic: the first word of [`Insn::text`].
    pub fn mnemonic(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or("")
    }
}

/// Decode `code` as instructions of `target`, the first byte at address `base`.
///
/// ```
/// use lil::{Target, disasm::disassemble};
/// let insns = disassemble(Target::Arm64, &[0xc0, 0x03, 0x5f, 0xd6], 0x1000);
/// assert_eq!(insns[0].text, "ret");
/// let insns = disassemble(Target::X64, &[0xc3], 0);
/// assert_eq!(insns[0].text, "ret");
/// ```
pub fn disassemble(target: Target, code: &[u8], base: u64) -> Vec<Insn> {
    match target {
        Target::X64 => disassemble_x64(code, base),
        Target::Arm64 => disassemble_arm64(code, base),
    }
}

/// The instructions of a compiled stub at address 0, without its trailing
/// data (the bytes from [`CompiledStub::data_start`] on). For tests and
/// benchmarks that count or match instructions.
///
/// ```
/// use lil::{HostEnv, Target};
/// let code = lil::compile_for(Target::X64, "entry 0:platform:g8:g8; r = i0; ret;", &HostEnv::default())?;
/// let insns = lil::disasm::instructions(&code);
/// assert_eq!(insns.last().map(|i| i.mnemonic()), Some("ret"));
/// # Ok::<(), lil::Error>(())
/// ```
pub fn instructions(stub: &CompiledStub) -> Vec<Insn> {
    instructions_at(stub, 0)
}

/// [`instructions`] with the code placed at address `base` (for example
/// where it was installed), so absolute branch targets are real addresses.
pub fn instructions_at(stub: &CompiledStub, base: u64) -> Vec<Insn> {
    disassemble(stub.target, code_part(stub), base)
}

/// The instruction bytes of a stub: everything before its data.
fn code_part(stub: &CompiledStub) -> &[u8] {
    let end = (stub.data_start as usize).min(stub.code.len());
    &stub.code[..end]
}

fn disassemble_x64(code: &[u8], base: u64) -> Vec<Insn> {
    use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};

    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_branch_leading_zeros(false);
    options.set_space_after_operand_separator(true);
    options.set_first_operand_char_index(0);

    let mut out = Vec::new();
    let mut instruction = Instruction::default();
    while decoder.can_decode() {
        let offset = decoder.position();
        decoder.decode_out(&mut instruction);
        let invalid = instruction.is_invalid();
        // An invalid instruction is reported one byte at a time (decoding
        // resumes at the next byte), as objdump does, so no valid
        // instruction after it is swallowed.
        let len = if invalid {
            1
        } else {
            instruction.len().clamp(1, code.len() - offset)
        };
        let text = if invalid {
            "(bad)".to_owned()
        } else {
            let mut text = String::new();
            formatter.format(&instruction, &mut text);
            text
        };
        out.push(Insn {
            addr: base.wrapping_add(offset as u64),
            bytes: code[offset..offset + len].to_vec(),
            text,
        });
        if decoder.position() != offset + len && decoder.set_position(offset + len).is_err() {
            break;
        }
    }
    out
}

fn disassemble_arm64(code: &[u8], base: u64) -> Vec<Insn> {
    use yaxpeax_arch::{Arch, Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::ARMv8;

    let decoder = <ARMv8 as Arch>::Decoder::default();
    code.chunks(4)
        .enumerate()
        .map(|(k, word)| {
            let addr = base.wrapping_add(4 * k as u64);
            let text = if word.len() < 4 {
                "(bad)".to_owned()
            } else {
                match decoder.decode(&mut U8Reader::new(word)) {
                    Ok(instruction) => arm64_text(&instruction, addr),
                    Err(_) => "(bad)".to_owned(),
                }
            };
            Insn {
                addr,
                bytes: word.to_vec(),
                text,
            }
        })
        .collect()
}

/// yaxpeax's text with a PC-relative operand (`$+0x10`, `$-0x8`) replaced
/// by the absolute address it designates.
fn arm64_text(instruction: &yaxpeax_arm::armv8::a64::Instruction, pc: u64) -> String {
    use yaxpeax_arm::armv8::a64::{Opcode, Operand};

    let text = instruction.to_string();
    let Some(offset) = instruction.operands.iter().find_map(|op| match op {
        Operand::PCOffset(offset) => Some(*offset),
        _ => None,
    }) else {
        return text;
    };
    // Same spelling as yaxpeax's `Display` for `Operand::PCOffset`.
    let relative = if offset < 0 {
        format!("$-{:#x}", offset.wrapping_neg())
    } else {
        format!("$+{offset:#x}")
    };
    // `adrp` addresses a 4 KiB page relative to the page of the instruction.
    let from = if instruction.opcode == Opcode::ADRP {
        pc & !0xfff
    } else {
        pc
    };
    let target = from.wrapping_add(offset as u64);
    text.replacen(&relative, &format!("{target:#x}"), 1)
}

/// The interleaved listing of a compiled stub at address 0: each LIL
/// instruction's source text, followed by the machine instructions it
/// produced. See [`listing_at`].
///
/// ```
/// use lil::{HostEnv, Target};
/// let text = "entry 0:platform:g4,g4:g4;\nr = i0 + i1;\nret;\n";
/// let checked = lil::check_text(text)?;
/// let code = lil::compile_checked_for(Target::X64, &checked, &HostEnv::default())?;
/// let listing = lil::disasm::listing(&code, checked.stub(), text);
/// assert!(listing.contains("; 2 | r = i0 + i1;"));
/// assert!(listing.contains("ret"));
/// # Ok::<(), lil::Error>(())
/// ```
pub fn listing(compiled: &CompiledStub, stub: &Stub, source: &str) -> String {
    listing_at(compiled, stub, source, 0)
}

/// The interleaved listing of `compiled`, generated from `stub` parsed from
/// `source`, with the code placed at address `base`.
///
/// Each LIL instruction is shown as `; LINE | TEXT` (its text from `source`,
/// or the canonical text if its span does not point into `source`),
/// followed by `ADDRESS  BYTES  ASSEMBLY` for each machine instruction its
/// [`CompiledStub::source_map`] entry covers. Instructions without code
/// (`locals`, labels, unreachable code) show the source line only. Code the
/// source map does not attribute to an instruction (a frame prologue placed
/// at a join, edge stubs) is listed under `; (prologue/edge)`, and the bytes
/// from [`CompiledStub::data_start`] on under `; (data)`.
pub fn listing_at(compiled: &CompiledStub, stub: &Stub, source: &str, base: u64) -> String {
    let insns = disassemble(compiled.target, code_part(compiled), base);
    let total = compiled.code.len() as u64;
    let wide = base
        .checked_add(total)
        .is_none_or(|end| end > u64::from(u32::MAX));
    let addr_width = if wide { 16 } else { 8 };
    let bytes_width = match compiled.target {
        Target::X64 => 24,
        Target::Arm64 => 8,
    };

    let mut out = String::new();
    let _ = writeln!(
        out,
        "; {} code, {} bytes ({} of instructions)",
        compiled.target,
        compiled.code.len(),
        code_part(compiled).len()
    );
    source_line(&mut out, source, stub.entry.span, &stub.entry.to_string());

    // Which body instruction owns the byte at each code offset.
    let owner_of = |offset: u64| {
        compiled
            .source_map
            .iter()
            .find(|e| u64::from(e.code.start) <= offset && offset < u64::from(e.code.end))
            .map(|e| e.instruction as usize)
    };
    let show_inst = |out: &mut String, i: usize| {
        if let Some(inst) = stub.body.get(i) {
            let canonical = stub.display_instruction(&inst.kind).to_string();
            source_line(out, source, inst.span, &canonical);
        }
    };

    #[derive(PartialEq)]
    enum Group {
        None,
        Inst(usize),
        Unattributed,
    }
    let mut group = Group::None;
    let mut next_inst = 0usize;
    for insn in &insns {
        let offset = insn.addr.wrapping_sub(base);
        match owner_of(offset) {
            Some(i) if group != Group::Inst(i) => {
                if i >= next_inst {
                    // Instructions before `i` that produced no code.
                    for j in next_inst..=i {
                        show_inst(&mut out, j);
                    }
                    next_inst = i + 1;
                } else {
                    // Code of an earlier instruction placed out of order.
                    show_inst(&mut out, i);
                }
                group = Group::Inst(i);
            }
            None if group != Group::Unattributed => {
                out.push_str("; (prologue/edge)\n");
                group = Group::Unattributed;
            }
            _ => {}
        }
        machine_line(&mut out, compiled.target, insn, addr_width, bytes_width);
    }
    for j in next_inst..stub.body.len() {
        show_inst(&mut out, j);
    }

    let data = compiled
        .code
        .get(compiled.data_start as usize..)
        .unwrap_or(&[]);
    if !data.is_empty() {
        out.push_str("; (data)\n");
        for (k, chunk) in data.chunks(16).enumerate() {
            let addr = base
                .wrapping_add(u64::from(compiled.data_start))
                .wrapping_add(16 * k as u64);
            let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let text: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            let _ = writeln!(out, "{addr:0addr_width$x}  {hex:<32}  |{text}|");
        }
    }
    out
}

/// `; LINE | TEXT`: the instruction as written (whitespace runs collapsed,
/// so an instruction spread over lines stays on one), or `canonical` when
/// its span is not inside `source`.
fn source_line(out: &mut String, source: &str, span: lil_syntax::Span, canonical: &str) {
    let written = (span.start < span.end)
        .then(|| source.get(span.range()))
        .flatten()
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "));
    match written {
        Some(text) => {
            let (line, _) = line_col(source, span.start);
            let _ = writeln!(out, "; {line} | {text}");
        }
        None => {
            let _ = writeln!(out, "; {canonical}");
        }
    }
}

/// `ADDRESS  BYTES  ASSEMBLY`. AArch64 encodings are shown as the 32-bit
/// instruction word (`d65f03c0` for `ret`), as AArch64 tools do; x86-64
/// encodings as bytes in memory order.
fn machine_line(
    out: &mut String,
    target: Target,
    insn: &Insn,
    addr_width: usize,
    bytes_width: usize,
) {
    let hex = match (target, <[u8; 4]>::try_from(insn.bytes.as_slice())) {
        (Target::Arm64, Ok(word)) => format!("{:08x}", u32::from_le_bytes(word)),
        _ => insn.bytes.iter().map(|b| format!("{b:02x}")).collect(),
    };
    let _ = writeln!(
        out,
        "{:0addr_width$x}  {hex:<bytes_width$}  {}",
        insn.addr, insn.text
    );
}

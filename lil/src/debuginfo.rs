//! Debug information for generated stubs: source lines, DWARF call-frame
//! information and line tables, and the in-memory ELF object a debugger
//! loads through the GDB JIT interface ([`crate::gdb`]).
//!
//! Everything here is derived from a [`CompiledStub`]: its source map gives
//! the LIL line of every instruction's code ([`LineTable`]), its
//! [`UnwindInfo`] the frame state at every byte ([`debug_frame`]). The DWARF
//! is written with `gimli`; the ELF container is a dozen fixed headers and
//! is written here, because a debugger needs the code section placed at the
//! stub's real address, which general object writers only do for linked
//! executables.

use gimli::write::{
    Address, AttributeValue, CallFrameInstruction as Cfi, CommonInformationEntry, DebugFrame,
    DwarfUnit, EndianVec, FrameDescriptionEntry, FrameTable, LineProgram, LineString, Sections,
};
use gimli::{Encoding, Format, LineEncoding, LittleEndian, Register};
use lil_codegen::unwind::{
    FrameState, UnwindInfo, dwarf_register, dwarf_sp_fp_ra, entry_cfa_offset,
};
use lil_codegen::{CompiledStub, Target};
use lil_syntax::Stub;

use crate::Error;

/// Which LIL source line each stretch of a stub's code came from.
///
/// ```
/// use lil::{HostEnv, Target, debuginfo::LineTable};
/// let text = "entry 0:platform:g4:g4;\nr = i0 + 1;\nret;\n";
/// let checked = lil::check_text(text)?;
/// let code = lil::compile_checked_for(Target::X64, &checked, &HostEnv::default())?;
/// let lines = LineTable::new(&code, checked.stub(), Some(text), "inc.lil");
/// // Line 2 (`r = i0 + 1;`) produced the first instruction.
/// assert_eq!(lines.rows[0], (0, 2));
/// assert_eq!(lines.line_at(code.code.len() as u32 - 1), Some(3));
/// # Ok::<(), lil::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineTable {
    /// The file the lines refer to.
    pub file: String,
    /// `(code offset, line)` in increasing offset order: from the offset
    /// on, until the next row, the code came from that 1-based line. A
    /// prologue at the start belongs to the `entry` line; line 0 marks other
    /// code no single instruction produced (a prologue placed at a join, an
    /// edge stub, embedded data).
    pub rows: Vec<(u32, u32)>,
}

impl LineTable {
    /// The line table of `compiled`, generated from `stub`. With `source`
    /// (the text `stub` was parsed from) lines are lines of that text;
    /// without it they are lines of the stub as printed (`stub.to_string()`:
    /// the entry on line 1, instruction `i` on line `i + 2`).
    pub fn new(
        compiled: &CompiledStub,
        stub: &Stub,
        source: Option<&str>,
        file: impl Into<String>,
    ) -> LineTable {
        // Start offsets of every line, to turn byte offsets into lines by
        // binary search.
        let line_starts: Vec<u32> = source.map_or_else(Vec::new, |text| {
            std::iter::once(0)
                .chain(
                    text.bytes()
                        .enumerate()
                        .filter(|&(_, b)| b == b'\n')
                        .map(|(k, _)| k as u32 + 1),
                )
                .collect()
        });
        let line_of = |i: u32| -> u32 {
            match (source, stub.body.get(i as usize)) {
                (Some(_), Some(inst)) => {
                    line_starts.partition_point(|&start| start <= inst.span.start) as u32
                }
                _ => i + 2,
            }
        };
        let mut rows: Vec<(u32, u32)> = Vec::with_capacity(compiled.source_map.len() + 2);
        // Code before the first instruction's is the prologue: the `entry`
        // line's.
        let entry_line = match source {
            Some(_) => line_starts.partition_point(|&start| start <= stub.entry.span.start) as u32,
            None => 1,
        };
        let mut end = 0;
        for entry in &compiled.source_map {
            if rows.is_empty() && entry.code.start > 0 {
                rows.push((0, entry_line));
            } else if entry.code.start > end {
                rows.push((end, 0));
            }
            let line = line_of(entry.instruction);
            if rows.last().is_none_or(|&(_, l)| l != line) {
                rows.push((entry.code.start, line));
            }
            end = entry.code.end;
        }
        if (end as usize) < compiled.code.len() {
            rows.push((end, 0));
        }
        LineTable {
            file: file.into(),
            rows,
        }
    }

    /// The line of the code at `offset`, if an instruction produced it.
    pub fn line_at(&self, offset: u32) -> Option<u32> {
        let k = self.rows.partition_point(|&(start, _)| start <= offset);
        match k.checked_sub(1).map(|k| self.rows[k].1) {
            Some(0) | None => None,
            line => line,
        }
    }
}

/// Where a stub was installed and what to call it: everything the
/// debugger and profiler integrations describe.
#[derive(Clone, Copy, Debug)]
pub struct StubImage<'a> {
    /// The symbol name debuggers and profilers show.
    pub name: &'a str,
    /// The address of the first byte of the code.
    pub addr: u64,
    /// The code, its source map and unwind information.
    pub compiled: &'a CompiledStub,
    /// Its source lines.
    pub lines: &'a LineTable,
}

fn dwarf_error(err: gimli::write::Error) -> Error {
    Error::DebugInfo(format!("cannot encode DWARF: {err}"))
}

/// The CFA and register rules of `state` on `target`, in full (so a row
/// can follow any other row).
fn state_rules(target: Target, state: FrameState, unwind: &UnwindInfo) -> Vec<Cfi> {
    let (sp, fp, ra) = dwarf_sp_fp_ra(target);
    let (sp, fp, ra) = (Register(sp), Register(fp), Register(ra));
    let mut rules = Vec::with_capacity(4 + unwind.saved.len());
    match state {
        FrameState::Entry => {
            rules.push(Cfi::Cfa(sp, entry_cfa_offset(target) as i32));
            rules.push(Cfi::SameValue(fp));
            match target {
                Target::X64 => rules.push(Cfi::Offset(ra, -8)),
                Target::Arm64 => rules.push(Cfi::SameValue(ra)),
            }
        }
        FrameState::RecordPushed | FrameState::Framed | FrameState::Saved => {
            let cfa = if state == FrameState::RecordPushed {
                sp
            } else {
                fp
            };
            rules.push(Cfi::Cfa(cfa, 16));
            rules.push(Cfi::Offset(fp, -16));
            rules.push(Cfi::Offset(ra, -8));
        }
    }
    for &(reg, slot) in &unwind.saved {
        let reg = Register(dwarf_register(target, reg));
        rules.push(if state == FrameState::Saved {
            Cfi::Offset(reg, slot)
        } else {
            Cfi::SameValue(reg)
        });
    }
    rules
}

/// A `.debug_frame` section with one CIE and one FDE describing how to
/// unwind from every byte of the code at `addr` (absolute addresses).
pub fn debug_frame(
    target: Target,
    addr: u64,
    len: u32,
    unwind: &UnwindInfo,
) -> Result<Vec<u8>, Error> {
    let (_, _, ra) = dwarf_sp_fp_ra(target);
    let encoding = Encoding {
        format: Format::Dwarf32,
        version: 1,
        address_size: 8,
    };
    let code_alignment = match target {
        Target::X64 => 1,
        Target::Arm64 => 4,
    };
    let mut cie = CommonInformationEntry::new(encoding, code_alignment, -8, Register(ra));
    for rule in state_rules(target, FrameState::Entry, unwind) {
        cie.add_instruction(rule);
    }
    let mut table = FrameTable::default();
    let cie = table.add_cie(cie);
    let mut fde = FrameDescriptionEntry::new(Address::Constant(addr), len);
    for row in &unwind.rows {
        for rule in state_rules(target, row.state, unwind) {
            fde.add_instruction(row.offset, rule);
        }
    }
    table.add_fde(cie, fde);
    let mut section = DebugFrame(EndianVec::new(LittleEndian));
    table.write_debug_frame(&mut section).map_err(dwarf_error)?;
    Ok(section.0.into_vec())
}

/// The `.debug_info`, `.debug_abbrev`, `.debug_line` and `.debug_str`
/// sections of one compile unit holding the stub as a subprogram, with its
/// line table.
fn debug_sections(image: &StubImage<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, Error> {
    let encoding = Encoding {
        format: Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let len = image.compiled.code.len() as u64;
    let begin = Address::Constant(image.addr);
    let (dir, file) = match image.lines.file.rsplit_once('/') {
        Some(("", file)) => ("/", file),
        Some((dir, file)) => (dir, file),
        None => (".", image.lines.file.as_str()),
    };
    let file = if file.is_empty() { "stub.lil" } else { file };
    let mut dwarf = DwarfUnit::new(encoding);
    let mut program = LineProgram::new(
        encoding,
        LineEncoding::default(),
        LineString::new(dir.as_bytes(), encoding, &mut dwarf.line_strings),
        None,
        LineString::new(file.as_bytes(), encoding, &mut dwarf.line_strings),
        None,
    );
    let dir_id = program.default_directory();
    let file_name = LineString::new(file.as_bytes(), encoding, &mut dwarf.line_strings);
    let file_id = program.add_file(file_name, dir_id, None);
    program.begin_sequence(Some(begin));
    for &(offset, line) in &image.lines.rows {
        let row = program.row();
        row.address_offset = u64::from(offset);
        row.file = file_id;
        row.line = u64::from(line);
        program.generate_row();
    }
    program.end_sequence(len);
    dwarf.unit.line_program = program;

    let root = dwarf.unit.root();
    let cu = dwarf.unit.get_mut(root);
    cu.set(
        gimli::DW_AT_producer,
        AttributeValue::String(b"LIL-rs".to_vec()),
    );
    cu.set(
        gimli::DW_AT_language,
        AttributeValue::Language(gimli::DW_LANG_Mips_Assembler),
    );
    cu.set(
        gimli::DW_AT_name,
        AttributeValue::String(image.lines.file.as_bytes().to_vec()),
    );
    cu.set(
        gimli::DW_AT_comp_dir,
        AttributeValue::String(dir.as_bytes().to_vec()),
    );
    cu.set(gimli::DW_AT_low_pc, AttributeValue::Address(begin));
    cu.set(gimli::DW_AT_high_pc, AttributeValue::Udata(len));
    let sub = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
    let sub = dwarf.unit.get_mut(sub);
    sub.set(
        gimli::DW_AT_name,
        AttributeValue::String(image.name.as_bytes().to_vec()),
    );
    sub.set(gimli::DW_AT_external, AttributeValue::Flag(true));
    sub.set(
        gimli::DW_AT_decl_file,
        AttributeValue::FileIndex(Some(file_id)),
    );
    sub.set(gimli::DW_AT_decl_line, AttributeValue::Udata(1));
    sub.set(gimli::DW_AT_low_pc, AttributeValue::Address(begin));
    sub.set(gimli::DW_AT_high_pc, AttributeValue::Udata(len));

    let mut sections = Sections::new(EndianVec::new(LittleEndian));
    dwarf.write(&mut sections).map_err(dwarf_error)?;
    let mut out = Vec::new();
    sections.for_each_mut(|id, section| -> Result<(), Error> {
        let data = std::mem::replace(section, EndianVec::new(LittleEndian)).into_vec();
        if !data.is_empty() {
            out.push((id.name(), data));
        }
        Ok(())
    })?;
    Ok(out)
}

// ---- the ELF container -------------------------------------------------------

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const STB_GLOBAL_STT_FUNC: u8 = 0x12;
const STB_LOCAL_STT_FILE: u8 = 0x04;
const SHN_ABS: u16 = 0xfff1;

struct SectionSpec {
    name: u32,
    kind: u32,
    flags: u64,
    addr: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// A string table under construction.
#[derive(Default)]
struct Strtab(Vec<u8>);

impl Strtab {
    fn new() -> Strtab {
        Strtab(vec![0])
    }
    fn add(&mut self, s: &str) -> u32 {
        let at = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        at
    }
}

/// An ELF64 relocatable object describing one installed stub: a `.text`
/// section (no bytes: the code is in memory) at the stub's address, a
/// global function symbol with its name, `.debug_frame` for unwinding
/// through it, and DWARF line information pointing at its LIL source. This
/// is what GDB's JIT interface loads; `readelf`/`objdump` read it too.
pub fn elf_image(image: &StubImage<'_>) -> Result<Vec<u8>, Error> {
    let compiled = image.compiled;
    let len = compiled.code.len() as u64;
    let mut debug = vec![(
        ".debug_frame",
        debug_frame(compiled.target, image.addr, len as u32, &compiled.unwind)?,
    )];
    debug.extend(debug_sections(image)?);

    let mut shstr = Strtab::new();
    let mut str = Strtab::new();
    // Symbols: null, the source file, the stub.
    let mut symtab = vec![0u8; 24];
    let file_name = str.add(&image.lines.file);
    push_sym(&mut symtab, file_name, STB_LOCAL_STT_FILE, SHN_ABS, 0, 0);
    let name = str.add(image.name);
    push_sym(&mut symtab, name, STB_GLOBAL_STT_FUNC, 1, 0, len);

    let mut body = Vec::new();
    let mut sections = vec![SectionSpec {
        name: shstr.add(".text"),
        kind: SHT_NOBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        addr: image.addr,
        offset: 64,
        size: len,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    }];
    let place = |body: &mut Vec<u8>, data: &[u8], align: usize| -> u64 {
        while !body.len().is_multiple_of(align) {
            body.push(0);
        }
        let at = 64 + body.len() as u64;
        body.extend_from_slice(data);
        at
    };
    for (section, data) in &debug {
        let offset = place(&mut body, data, 1);
        sections.push(SectionSpec {
            name: shstr.add(section),
            kind: SHT_PROGBITS,
            flags: 0,
            addr: 0,
            offset,
            size: data.len() as u64,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        });
    }
    let symtab_index = sections.len() as u32 + 1;
    let symtab_name = shstr.add(".symtab");
    let offset = place(&mut body, &symtab, 8);
    sections.push(SectionSpec {
        name: symtab_name,
        kind: SHT_SYMTAB,
        flags: 0,
        addr: 0,
        offset,
        size: symtab.len() as u64,
        link: symtab_index + 1,
        // The first non-local symbol.
        info: 2,
        align: 8,
        entsize: 24,
    });
    let strtab_name = shstr.add(".strtab");
    let offset = place(&mut body, &str.0, 1);
    sections.push(SectionSpec {
        name: strtab_name,
        kind: SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset,
        size: str.0.len() as u64,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    let shstrtab_name = shstr.add(".shstrtab");
    let offset = place(&mut body, &shstr.0, 1);
    sections.push(SectionSpec {
        name: shstrtab_name,
        kind: SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset,
        size: shstr.0.len() as u64,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    while !body.len().is_multiple_of(8) {
        body.push(0);
    }
    let shoff = 64 + body.len() as u64;
    let shnum = sections.len() as u16 + 1;

    let mut elf = Vec::with_capacity(64 + body.len() + 64 * usize::from(shnum));
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    let machine = match compiled.target {
        Target::X64 => EM_X86_64,
        Target::Arm64 => EM_AARCH64,
    };
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&shoff.to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    elf.extend_from_slice(&shnum.to_le_bytes());
    elf.extend_from_slice(&(shnum - 1).to_le_bytes()); // .shstrtab is last
    elf.extend_from_slice(&body);
    elf.extend_from_slice(&[0; 64]);
    for s in &sections {
        elf.extend_from_slice(&s.name.to_le_bytes());
        elf.extend_from_slice(&s.kind.to_le_bytes());
        elf.extend_from_slice(&s.flags.to_le_bytes());
        elf.extend_from_slice(&s.addr.to_le_bytes());
        elf.extend_from_slice(&s.offset.to_le_bytes());
        elf.extend_from_slice(&s.size.to_le_bytes());
        elf.extend_from_slice(&s.link.to_le_bytes());
        elf.extend_from_slice(&s.info.to_le_bytes());
        elf.extend_from_slice(&s.align.to_le_bytes());
        elf.extend_from_slice(&s.entsize.to_le_bytes());
    }
    Ok(elf)
}

fn push_sym(out: &mut Vec<u8>, name: u32, info: u8, shndx: u16, value: u64, size: u64) {
    out.extend_from_slice(&name.to_le_bytes());
    out.push(info);
    out.push(0); // STV_DEFAULT
    out.extend_from_slice(&shndx.to_le_bytes());
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
}

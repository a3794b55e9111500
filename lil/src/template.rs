//! Templates: a stub compiled once with some constants left open, then
//! instantiated many times by copying its code and writing the constants in.
//!
//! A VM generates some stubs once per class or per method: the same shape,
//! different class pointers, offsets and helper addresses. Parsing,
//! checking and compiling each one costs microseconds; instantiating a
//! [`Template`] costs a copy of the code and a few stores, like hand-written
//! `dynasm!` (see `lil bench`).
//!
//! ```
//! use lil::template::{Hole, Template};
//! use lil::{HostEnv, Target};
//!
//! // instanceof for one class: compare the object's vtable with the class's.
//! let t = Template::from_text(
//!     Target::X64,
//!     &HostEnv::default(),
//!     "entry 0:managed:ref:g4;
//!      locals 1;
//!      ld l0, [i0+%0i:pint];
//!      jc l0 = %1i, yes;
//!      r = 0; ret;
//!      :yes; r = 1; ret;",
//!     &[Hole::Offset, Hole::Word],
//! )?;
//! let code = t.instantiate(&[8, 0x7f00_1234_5678])?;
//! // Every instance has the template's length: constants are written into
//! // fields wide enough for any value of their hole.
//! assert_eq!(code.code.len(), t.code_len());
//! # Ok::<(), lil::Error>(())
//! ```
//!
//! **How a template is made.** The stub is compiled three times, with each
//! hole set to a different *sentinel*, a value wide enough that the code
//! generator must use its most general form for it (a 32-bit displacement,
//! a 64-bit immediate; on AArch64 the full `movz`/`movk` sequence, which
//! [`CompileOptions::patchable_constants`] asks for). The first two
//! compilations differ exactly where a hole's value is encoded: those are
//! the *sites*. The template is accepted only if the three compilations are
//! identical everywhere else (code, source map, unwind information) and if
//! writing the third compilation's values into the first one's sites gives
//! the third compilation byte for byte. A stub where that fails (a hole the
//! code generator transforms, for instance a shift count, or folds into
//! another constant) is refused with [`TemplateError::NotPatchable`] naming
//! the hole: compile those stubs normally.
//!
//! **What a hole may be.** A [`Hole::Offset`] is an address displacement
//! (`[l0+%0i:ref]`), a [`Hole::Imm32`] a `g4` immediate, a [`Hole::Word`]
//! any 64-bit immediate (`pint`, `ref`, `g8`, a call or tail-call target).
//! A hole must not change the stub's shape: counts (`locals %0i`), sizes
//! (`alloc`) and variable indices are not holes.

use lil_check::CheckedStub;
use lil_codegen::{CompileOptions, CompiledStub, HostEnv, Target};

use crate::debuginfo::LineTable;
use crate::{Error, backend};

/// What kind of constant a hole is, which fixes its range and the sentinel
/// values a template is compiled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hole {
    /// An address displacement: `i32`.
    Offset,
    /// A `g4` immediate: `-2^31 ..= 2^32 - 1` (its low 32 bits count).
    Imm32,
    /// A 64-bit immediate or address: any `i64` (or `u64` as its bits).
    Word,
}

impl Hole {
    /// Whether `value` is in the hole's range.
    pub fn accepts(self, value: i128) -> bool {
        match self {
            Hole::Offset => i32::try_from(value).is_ok(),
            Hole::Imm32 => (-(1i128 << 31)..(1i128 << 32)).contains(&value),
            Hole::Word => (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&value),
        }
    }

    /// The sentinel of hole `index` in compilation `set` (0, 1 or 2). The
    /// sets differ in every byte, and each sentinel forces the general
    /// encoding: offsets do not fit 8 or 12 bits and are odd, 32-bit
    /// immediates do not fit a signed 32-bit field, words do not fit 32
    /// bits; on AArch64 each needs two or more `movz`/`movk` halfwords.
    fn sentinel(self, index: usize, set: usize) -> i64 {
        let k = (index as i64 % 61) * 2;
        match (self, set) {
            (Hole::Offset, 0) => 0x3B6E_2A51 + k,
            (Hole::Offset, 1) => -0x2D19_7C43 - k,
            (Hole::Offset, _) => 0x1F4A_5E37 + k,
            (Hole::Imm32, 0) => 0x9B3E_91C5 + k,
            (Hole::Imm32, 1) => 0xC4D7_2EA3 + k,
            (Hole::Imm32, _) => 0xE659_D38B + k,
            (Hole::Word, 0) => 0x5A3C_96E1_7B2D_4F19 + k,
            (Hole::Word, 1) => 0x2BD5_6C1A_E4F7_9163_u64 as i64 + k,
            (Hole::Word, _) => 0x7E81_3BA6_1D95_C24B + k,
        }
    }
}

/// Why a template could not be made or instantiated (code `E0505`).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The code generator does not write the hole's value into the code
    /// verbatim (it transforms, folds or splits it), so no copy-and-patch
    /// instantiation is exact.
    #[error("hole {hole} cannot be patched: {why}; compile this stub normally")]
    NotPatchable {
        /// The hole's index.
        hole: usize,
        /// What was found.
        why: String,
    },
    /// The three compilations differ in something other than hole values.
    #[error("the stub's code depends on the values of its holes ({what}); compile it normally")]
    ShapeDepends {
        /// What differs.
        what: &'static str,
    },
    /// The template was made for another target than the JIT's.
    #[error("the template is for {template}, this JIT generates {jit} code")]
    WrongTarget {
        /// The template's target.
        template: Target,
        /// The JIT's.
        jit: Target,
    },
    /// `instantiate` was given the wrong number of values.
    #[error("the template has {expected} hole(s), {got} value(s) were given")]
    Arity {
        /// The number of holes.
        expected: usize,
        /// The number of values.
        got: usize,
    },
    /// A value outside its hole's range.
    #[error("value {value} does not fit hole {hole} ({kind:?})")]
    OutOfRange {
        /// The hole's index.
        hole: usize,
        /// The value.
        value: i128,
        /// The hole's kind.
        kind: Hole,
    },
    /// The buffer given to [`Template::write`] is not the code's length.
    #[error("the buffer holds {got} bytes, the template's code {expected}")]
    BufferSize {
        /// The code's length.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

/// Where one hole's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Site {
    /// Byte offset in the code.
    offset: u32,
    /// Which hole.
    hole: u16,
    /// How the value is encoded there.
    kind: SiteKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SiteKind {
    /// The low `width` bytes of the value (or of its negation), little-endian.
    Bytes { width: u8, negated: bool },
    /// AArch64 `movz; movk; movk; movk` of the value's four halfwords (or
    /// of its negation), the imm16 field at bits 5..21 of each word.
    MovWide { negated: bool },
}

/// A stub compiled once, instantiated by patching constants in.
#[derive(Clone, Debug)]
pub struct Template {
    holes: Vec<Hole>,
    base: CompiledStub,
    sites: Vec<Site>,
    /// The stub's text, for debuggers: the text given, or the stub as
    /// printed (with the first sentinel values in its holes).
    source: String,
    /// The source line of each stretch of code, in `source`.
    lines: Vec<(u32, u32)>,
}

impl Template {
    /// Make a template for `target` from a stub builder: `build` gets one
    /// value per hole (in `holes` order) and returns the checked stub with
    /// those constants in place, for example with `lil_parse!`:
    ///
    /// ```
    /// use lil::template::{Hole, Template};
    /// use lil::{HostEnv, Target, lil_parse};
    ///
    /// let t = Template::new(Target::Arm64, &HostEnv::default(), &[Hole::Offset], |v| {
    ///     let offset = v[0];
    ///     let stub = lil_parse!("entry 0:platform:pint:pint; ld r, [i0+{offset}:pint]; ret;")?;
    ///     Ok(lil::check::check_owned(stub)?)
    /// })?;
    /// assert_eq!(t.holes(), [Hole::Offset]);
    /// # Ok::<(), lil::Error>(())
    /// ```
    pub fn new(
        target: Target,
        env: &HostEnv,
        holes: &[Hole],
        build: impl Fn(&[i64]) -> Result<CheckedStub, Error>,
    ) -> Result<Template, Error> {
        Template::make(target, env, holes, build, None)
    }

    fn make(
        target: Target,
        env: &HostEnv,
        holes: &[Hole],
        build: impl Fn(&[i64]) -> Result<CheckedStub, Error>,
        text: Option<&str>,
    ) -> Result<Template, Error> {
        let backend = backend(target);
        let options = CompileOptions {
            patchable_constants: true,
        };
        let compile_set = |set: usize| -> Result<(Vec<i64>, CompiledStub, CheckedStub), Error> {
            let values: Vec<i64> = holes
                .iter()
                .enumerate()
                .map(|(k, h)| h.sentinel(k, set))
                .collect();
            let stub = build(&values)?;
            let code = backend
                .compile_with(&stub, env, &options)
                .map_err(|source| Error::Codegen { target, source })?;
            Ok((values, code, stub))
        };
        let (a_values, a, a_stub) = compile_set(0)?;
        let (b_values, b, _) = compile_set(1)?;
        let (c_values, c, _) = compile_set(2)?;
        for other in [&b, &c] {
            if other.code.len() != a.code.len() {
                return Err(TemplateError::ShapeDepends {
                    what: "code length",
                }
                .into());
            }
            if other.source_map != a.source_map {
                return Err(TemplateError::ShapeDepends { what: "source map" }.into());
            }
            if other.unwind != a.unwind {
                return Err(TemplateError::ShapeDepends {
                    what: "unwind information",
                }
                .into());
            }
            if other.data_start != a.data_start {
                return Err(TemplateError::ShapeDepends {
                    what: "embedded data",
                }
                .into());
            }
        }
        let sites = match target {
            Target::X64 => find_byte_sites(&a, &b, holes, &a_values, &b_values)?,
            Target::Arm64 => find_movwide_sites(&a, &b, holes, &a_values, &b_values)?,
        };
        let source = match text {
            Some(text) => text.to_string(),
            None => a_stub.stub().to_string(),
        };
        let lines = LineTable::new(&a, a_stub.stub(), text, "").rows;
        let template = Template {
            holes: holes.to_vec(),
            base: a,
            sites,
            source,
            lines,
        };
        // Instantiating with the third set's values must reproduce the third
        // compilation exactly.
        let mut check = vec![0; template.code_len()];
        template.write(&c_values, &mut check)?;
        if let Some(at) = check.iter().zip(&c.code).position(|(x, y)| x != y) {
            return Err(TemplateError::NotPatchable {
                hole: template
                    .sites
                    .iter()
                    .find(|s| (s.offset as usize..s.offset as usize + 16).contains(&at))
                    .map_or(0, |s| usize::from(s.hole)),
                why: format!("patching does not reproduce a real compilation at byte {at}"),
            }
            .into());
        }
        Ok(template)
    }

    /// Make a template from LIL text whose `%0i`, `%1i`, ... directives are
    /// the holes (`holes[k]` describes `%ki`).
    pub fn from_text(
        target: Target,
        env: &HostEnv,
        text: &str,
        holes: &[Hole],
    ) -> Result<Template, Error> {
        let build = |values: &[i64]| {
            let args: Vec<lil_syntax::Arg<'_>> =
                values.iter().map(|&v| lil_syntax::Arg::int(v)).collect();
            let stub = lil_syntax::parse_with(text, &args)?;
            Ok(lil_check::check_owned(stub)?)
        };
        Template::make(target, env, holes, build, Some(text))
    }

    /// The stub's text: the text a template was made from, or the stub
    /// built with the first sentinel values, as printed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The line table every instance shares, naming `file`.
    pub fn line_table(&self, file: impl Into<String>) -> LineTable {
        LineTable {
            file: file.into(),
            rows: self.lines.clone(),
        }
    }

    /// The holes, in order.
    pub fn holes(&self) -> &[Hole] {
        &self.holes
    }

    /// The target the code is for.
    pub fn target(&self) -> Target {
        self.base.target
    }

    /// The length of every instance's code.
    pub fn code_len(&self) -> usize {
        self.base.code.len()
    }

    /// How many places in the code the holes are written to.
    pub fn site_count(&self) -> usize {
        self.sites.len()
    }

    /// Check `values` against the holes.
    fn validate(&self, values: &[i64]) -> Result<(), TemplateError> {
        if values.len() != self.holes.len() {
            return Err(TemplateError::Arity {
                expected: self.holes.len(),
                got: values.len(),
            });
        }
        for (k, (&hole, &value)) in self.holes.iter().zip(values).enumerate() {
            if !hole.accepts(i128::from(value)) {
                return Err(TemplateError::OutOfRange {
                    hole: k,
                    value: i128::from(value),
                    kind: hole,
                });
            }
        }
        Ok(())
    }

    /// Write the code with `values` in its holes into `out`, which must be
    /// exactly [`Template::code_len`] bytes. For `Word` holes pass a `u64`
    /// as its bits (`addr as i64`).
    pub fn write(&self, values: &[i64], out: &mut [u8]) -> Result<(), TemplateError> {
        self.validate(values)?;
        if out.len() != self.base.code.len() {
            return Err(TemplateError::BufferSize {
                expected: self.base.code.len(),
                got: out.len(),
            });
        }
        out.copy_from_slice(&self.base.code);
        for site in &self.sites {
            let v = values[usize::from(site.hole)] as u64;
            let at = site.offset as usize;
            match site.kind {
                SiteKind::Bytes { width, negated } => {
                    let v = if negated { v.wrapping_neg() } else { v };
                    let w = usize::from(width);
                    out[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
                SiteKind::MovWide { negated } => {
                    let v = if negated { v.wrapping_neg() } else { v };
                    for k in 0..4 {
                        let p = at + 4 * k;
                        let word = u32::from_le_bytes([out[p], out[p + 1], out[p + 2], out[p + 3]]);
                        let half = ((v >> (16 * k)) & 0xffff) as u32;
                        let word = (word & !(0xffff << 5)) | (half << 5);
                        out[p..p + 4].copy_from_slice(&word.to_le_bytes());
                    }
                }
            }
        }
        Ok(())
    }

    /// The compiled stub with `values` in its holes. It computes what the
    /// stub built with those values computes when compiled normally; its
    /// code is the general form (a full compile may pick shorter encodings
    /// for small values).
    pub fn instantiate(&self, values: &[i64]) -> Result<CompiledStub, Error> {
        let mut code = vec![0; self.base.code.len()];
        self.write(values, &mut code)?;
        Ok(CompiledStub {
            code,
            ..self.base.clone()
        })
    }
}

/// x86-64: every maximal run of bytes where `a` and `b` differ must be
/// made of holes' little-endian values (or their negations), 4 or 8 bytes
/// each (two holes' fields may be adjacent).
fn find_byte_sites(
    a: &CompiledStub,
    b: &CompiledStub,
    holes: &[Hole],
    a_values: &[i64],
    b_values: &[i64],
) -> Result<Vec<Site>, Error> {
    let mut sites = Vec::new();
    let n = a.code.len();
    let mut i = 0;
    while i < n {
        if a.code[i] == b.code[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && a.code[i] != b.code[i] {
            i += 1;
        }
        // Cover the run with fields, longest first.
        let mut p = start;
        while p < i {
            let found = (0..holes.len()).find_map(|h| {
                [8u8, 4].into_iter().find_map(|width| {
                    let w = usize::from(width);
                    if p + w > i {
                        return None;
                    }
                    [false, true].into_iter().find_map(|negated| {
                        let enc = |v: i64| {
                            let v = if negated { v.wrapping_neg() } else { v };
                            v.to_le_bytes()
                        };
                        (a.code[p..p + w] == enc(a_values[h])[..w]
                            && b.code[p..p + w] == enc(b_values[h])[..w])
                            .then_some(Site {
                                offset: p as u32,
                                hole: h as u16,
                                kind: SiteKind::Bytes { width, negated },
                            })
                    })
                })
            });
            match found {
                Some(site) => {
                    let SiteKind::Bytes { width, .. } = site.kind else {
                        unreachable!("x86-64 sites are bytes")
                    };
                    p += usize::from(width);
                    sites.push(site);
                }
                None => {
                    return Err(TemplateError::NotPatchable {
                        hole: guess_hole(&a.code[p..i], a_values),
                        why: format!(
                            "bytes {p}..{i} change with the hole values but hold none of them \
                             verbatim"
                        ),
                    }
                    .into());
                }
            }
        }
    }
    Ok(sites)
}

/// AArch64: every instruction word where `a` and `b` differ must belong to a
/// `movz; movk lsl 16; movk lsl 32; movk lsl 48` sequence into one register
/// that materialises a hole's value (or its negation).
fn find_movwide_sites(
    a: &CompiledStub,
    b: &CompiledStub,
    holes: &[Hole],
    a_values: &[i64],
    b_values: &[i64],
) -> Result<Vec<Site>, Error> {
    let word = |code: &[u8], k: usize| {
        u32::from_le_bytes([
            code[4 * k],
            code[4 * k + 1],
            code[4 * k + 2],
            code[4 * k + 3],
        ])
    };
    // movz/movk Xd, #imm16, lsl #(16*hw): sf=1, opc=10 (movz) / 11 (movk).
    let is_move = |w: u32, hw: u32, movz: bool| {
        // sf (1), opc (10 movz, 11 movk), 100101.
        let opc = if movz { 0x1A5 } else { 0x1E5 };
        w >> 23 == opc && (w >> 21) & 3 == hw
    };
    let value_of = |code: &[u8], k: usize| -> Option<u64> {
        let mut v = 0u64;
        for hw in 0..4u32 {
            let w = word(code, k + hw as usize);
            if !is_move(w, hw, hw == 0) || w & 31 != word(code, k) & 31 {
                return None;
            }
            v |= u64::from((w >> 5) & 0xffff) << (16 * hw);
        }
        Some(v)
    };
    let words = a.code.len() / 4;
    let mut sites = Vec::new();
    let mut k = 0;
    while k < words {
        if word(&a.code, k) == word(&b.code, k) {
            k += 1;
            continue;
        }
        // The sequence containing word k starts at most three words back.
        let found = (k.saturating_sub(3)..=k).find_map(|start| {
            if start + 4 > words {
                return None;
            }
            let (va, vb) = (value_of(&a.code, start)?, value_of(&b.code, start)?);
            (0..holes.len()).find_map(|h| {
                [false, true].into_iter().find_map(|negated| {
                    let enc = |v: i64| (if negated { v.wrapping_neg() } else { v }) as u64;
                    (va == enc(a_values[h]) && vb == enc(b_values[h])).then_some(Site {
                        offset: (4 * start) as u32,
                        hole: h as u16,
                        kind: SiteKind::MovWide { negated },
                    })
                })
            })
        });
        match found {
            Some(site) => {
                sites.push(site);
                k = site.offset as usize / 4 + 4;
            }
            None => {
                return Err(TemplateError::NotPatchable {
                    hole: 0,
                    why: format!(
                        "instruction {k} changes with the hole values but is not a movz/movk \
                         sequence holding one of them"
                    ),
                }
                .into());
            }
        }
    }
    Ok(sites)
}

/// The hole whose first sentinel byte appears in `run`, for error messages.
fn guess_hole(run: &[u8], values: &[i64]) -> usize {
    values
        .iter()
        .position(|v| run.contains(&(*v as u8)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub(target: Target, code: Vec<u8>) -> CompiledStub {
        CompiledStub {
            target,
            data_start: code.len() as u32,
            code,
            source_map: Vec::new(),
            unwind: Default::default(),
        }
    }

    #[test]
    fn byte_sites_are_exactly_the_sentinels() {
        let (a_v, b_v) = ([Hole::Word.sentinel(0, 0)], [Hole::Word.sentinel(0, 1)]);
        let code = |v: i64| {
            let mut c = vec![0x48, 0xb8];
            c.extend_from_slice(&v.to_le_bytes());
            c.push(0xc3);
            c
        };
        let (a, b) = (
            stub(Target::X64, code(a_v[0])),
            stub(Target::X64, code(b_v[0])),
        );
        let sites = find_byte_sites(&a, &b, &[Hole::Word], &a_v, &b_v).unwrap();
        assert_eq!(
            sites,
            [Site {
                offset: 2,
                hole: 0,
                kind: SiteKind::Bytes {
                    width: 8,
                    negated: false
                }
            }]
        );
        // The negation is recognised too.
        let b = stub(Target::X64, code(b_v[0].wrapping_neg()));
        let a = stub(Target::X64, code(a_v[0].wrapping_neg()));
        let sites = find_byte_sites(&a, &b, &[Hole::Word], &a_v, &b_v).unwrap();
        assert!(matches!(
            sites[0].kind,
            SiteKind::Bytes { negated: true, .. }
        ));
        // A transformed value (here, plus one) is not a site.
        let a = stub(Target::X64, code(a_v[0] + 1));
        let b = stub(Target::X64, code(b_v[0] + 1));
        let err = find_byte_sites(&a, &b, &[Hole::Word], &a_v, &b_v).unwrap_err();
        assert!(matches!(
            err,
            Error::Template(TemplateError::NotPatchable { .. })
        ));
    }

    #[test]
    fn movwide_sites_decode_the_value() {
        let movwide = |rd: u32, v: u64| -> Vec<u8> {
            (0..4u32)
                .flat_map(|hw| {
                    let opc: u32 = if hw == 0 { 0x1A5 } else { 0x1E5 };
                    let half = ((v >> (16 * hw)) & 0xffff) as u32;
                    ((opc << 23) | (hw << 21) | (half << 5) | rd).to_le_bytes()
                })
                .chain(0xd65f03c0u32.to_le_bytes())
                .collect()
        };
        let (a_v, b_v) = ([Hole::Offset.sentinel(0, 0)], [Hole::Offset.sentinel(0, 1)]);
        let a = stub(Target::Arm64, movwide(16, a_v[0] as u64));
        let b = stub(Target::Arm64, movwide(16, b_v[0] as u64));
        let sites = find_movwide_sites(&a, &b, &[Hole::Offset], &a_v, &b_v).unwrap();
        assert_eq!(
            sites,
            [Site {
                offset: 0,
                hole: 0,
                kind: SiteKind::MovWide { negated: false }
            }]
        );
        // Patching writes every halfword.
        let t = Template {
            holes: vec![Hole::Offset],
            base: a,
            sites,
            source: String::new(),
            lines: Vec::new(),
        };
        let mut out = vec![0; t.code_len()];
        t.write(&[-8], &mut out).unwrap();
        assert_eq!(out, movwide(16, (-8i64) as u64));
        // Moves into different registers are not one sequence.
        let mut mixed = movwide(16, a_v[0] as u64);
        mixed[8] ^= 1; // the third word now targets x17
        let a = stub(Target::Arm64, mixed);
        let b = stub(Target::Arm64, movwide(16, b_v[0] as u64));
        assert!(find_movwide_sites(&a, &b, &[Hole::Offset], &a_v, &b_v).is_err());
    }
}

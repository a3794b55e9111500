//! The canonical printer.
//!
//! `Display` for [`Stub`] prints one statement per line in a fixed style.
//! The output parses back to an equal stub (`parse(print(s)) == s`), which
//! the round-trip property test checks for generated ASTs and the whole
//! DRLVM corpus. DRLVM's printer could not do this (`0x0x1234`, `[i0:pint]`).

use crate::ast::*;
use std::fmt::{self, Display, Formatter, Write};

/// Writes an immediate: decimal when small, hex when it looks like an address.
pub(crate) fn write_imm(f: &mut impl Write, v: i128) -> fmt::Result {
    if v < 0 {
        f.write_char('-')?;
    }
    write_magnitude(f, v.unsigned_abs())
}

/// A non-negative number: small ones in decimal, large ones in hex.
fn write_magnitude(f: &mut impl Write, v: u128) -> fmt::Result {
    if v < 0x1_0000 {
        write!(f, "{v}")
    } else {
        write!(f, "{v:#x}")
    }
}

struct Imm(i128);

impl Display for Imm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_imm(f, self.0)
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.kind {
            OperandKind::Var(v) => write!(f, "{v}")?,
            OperandKind::Imm(i) => write_imm(f, i)?,
        }
        if let Some(t) = self.cast {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

impl Display for Address {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        let mut wrote = false;
        if let Some(base) = self.base {
            write!(f, "{}", base.var)?;
            wrote = true;
        }
        if let Some((index, scale)) = self.index {
            if wrote {
                f.write_char('+')?;
            }
            write!(f, "{}*{}", index.var, scale)?;
            wrote = true;
        }
        if !wrote {
            write_imm(f, self.offset)?;
        } else if self.offset < 0 {
            // The magnitude, not `-offset`: i128::MIN has no negation.
            f.write_char('-')?;
            write_magnitude(f, self.offset.unsigned_abs())?;
        } else {
            f.write_char('+')?;
            write_imm(f, self.offset)?;
        }
        write!(f, ":{}", self.ty)?;
        match self.ordering {
            Ordering::Plain => {}
            Ordering::Acquire => f.write_str(",acquire")?,
            Ordering::Release => f.write_str(",release")?,
        }
        f.write_char(']')
    }
}

fn write_ret(f: &mut Formatter<'_>, ret: Option<Type>) -> fmt::Result {
    match ret {
        Some(t) => write!(f, "{t}"),
        None => f.write_str("void"),
    }
}

impl Display for Signature {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.cc)?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "{p}")?;
        }
        f.write_char(':')?;
        write_ret(f, self.ret)
    }
}

impl Display for Entry {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}:", self.std_places)?;
        match &self.signature {
            EntrySignature::Typed(sig) => write!(f, "{sig};"),
            EntrySignature::Arbitrary { cc, .. } => write!(f, "{cc}:arbitrary;"),
        }
    }
}

fn write_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\0' => f.write_str("\\0")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// An instruction together with the stub that names its labels.
pub struct DisplayInstruction<'a> {
    stub: &'a Stub,
    inst: &'a InstKind,
}

impl Stub {
    /// Display one instruction of this stub (labels need the stub's names).
    pub fn display_instruction<'a>(&'a self, inst: &'a InstKind) -> DisplayInstruction<'a> {
        DisplayInstruction { stub: self, inst }
    }
}

impl Display for DisplayInstruction<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let label = |l: &LabelRef| self.stub.label_name(l.id);
        match self.inst {
            InstKind::Label(l) => write!(f, ":{};", label(l)),
            InstKind::Locals(n) => write!(f, "locals {n};"),
            InstKind::StdPlaces(n) => write!(f, "std_places {n};"),
            InstKind::Alloc { dst, size } => write!(f, "alloc {}, {size};", dst.var),
            InstKind::Move { dst, src } => write!(f, "{} = {src};", dst.var),
            InstKind::Unary { dst, op, src } => write!(f, "{} = {} {src};", dst.var, op.keyword()),
            InstKind::Binary { dst, op, lhs, rhs } => {
                write!(f, "{} = {lhs} {} {rhs};", dst.var, op.symbol())
            }
            InstKind::Ts { dst } => write!(f, "{} = ts;", dst.var),
            InstKind::Handles(o) => write!(f, "handles = {o};"),
            InstKind::Ld { dst, addr, ext } => {
                write!(f, "ld {}, {addr}", dst.var)?;
                match ext {
                    Some(Extension::Sign) => f.write_str(", sx;"),
                    Some(Extension::Zero) => f.write_str(", zx;"),
                    None => f.write_char(';'),
                }
            }
            InstKind::St { addr, src } => write!(f, "st {addr}, {src};"),
            InstKind::Inc { addr } => write!(f, "inc {addr};"),
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => write!(f, "cas {addr} = {compare}, {source}, {};", label(on_fail)),
            InstKind::Jump(l) => write!(f, "j {};", label(l)),
            InstKind::JumpIf { cond, target } => write!(
                f,
                "jc {} {} {}, {};",
                cond.lhs,
                cond.predicate.symbol(),
                cond.rhs,
                label(target)
            ),
            InstKind::Out(sig) => write!(f, "out {sig};"),
            InstKind::In2Out { cc, ret, .. } => {
                write!(f, "in2out {cc}:")?;
                write_ret(f, *ret)?;
                f.write_char(';')
            }
            InstKind::Call { kind, target } => write!(f, "{} {target};", kind.keyword()),
            InstKind::Ret => f.write_str("ret;"),
            InstKind::PushM2n {
                method,
                frame_type,
                handles,
            } => {
                f.write_str("push_m2n")?;
                // An omitted method is 0: written out where the syntax
                // needs a method before what follows, so a frame type set
                // without a method (an AST built in code) is not lost.
                match (method, frame_type) {
                    (None, None) if *handles => f.write_str(" 0")?,
                    (None, None) => {}
                    (None, Some(t)) => write!(f, " 0, {t}")?,
                    (Some(m), None) => write!(f, " {m}")?,
                    (Some(m), Some(t)) => write!(f, " {m}, {t}")?,
                }
                if *handles {
                    f.write_str(", handles")?;
                }
                f.write_char(';')
            }
            InstKind::M2nSaveAll => f.write_str("m2n_save_all;"),
            InstKind::PopM2n => f.write_str("pop_m2n;"),
            InstKind::Print { message, operand } => {
                f.write_str("print ")?;
                match message {
                    PrintMessage::Text(s) => write_string(f, s)?,
                    PrintMessage::Address(a) => write!(f, "{}", Imm(*a))?,
                }
                if let Some(o) = operand {
                    write!(f, ", {o}")?;
                }
                f.write_char(';')
            }
        }
    }
}

impl Display for Stub {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.entry)?;
        for inst in &self.body {
            writeln!(f, "{}", self.display_instruction(&inst.kind))?;
        }
        Ok(())
    }
}

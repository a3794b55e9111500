//! LIL's arithmetic and comparison semantics, written independently of any
//! backend, as the oracle of the execution tables.
//!
//! The rules (the same on every target): a `g1`/`g2`/`g4` value is an
//! N-bit value (register bits above it are unspecified); arithmetic wraps
//! at the type's width; shift counts are taken modulo 32 for
//! `g1`/`g2`/`g4` and modulo 64 for 64-bit types, and a count at or above
//! the width shifts every bit out; `>>` is arithmetic and `>>u` logical at
//! the type's width; `sxN`/`zxN` give a `pint`; comparisons compare at the
//! operand type's width.

use lil_syntax::{BinaryOp, Predicate, Type, UnaryOp};

/// The bits of a value of type `ty`.
pub fn mask(ty: Type) -> u64 {
    match ty.bits() {
        64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// `bits` sign-extended from the width of `ty`.
pub fn sext(ty: Type, bits: u64) -> i64 {
    let n = ty.bits();
    if n == 64 {
        bits as i64
    } else {
        ((bits << (64 - n)) as i64) >> (64 - n)
    }
}

/// `lhs op rhs` at type `ty`; `rhs` has type `count_ty` for shifts, `ty`
/// otherwise. Operands are taken at their widths; the result is masked.
pub fn binary(op: BinaryOp, ty: Type, lhs: u64, rhs: u64, count_ty: Type) -> u64 {
    let n = ty.bits();
    let a = lhs & mask(ty);
    let count = (rhs & mask(count_ty)) & if n == 64 { 63 } else { 31 };
    let r = match op {
        BinaryOp::Add => a.wrapping_add(rhs),
        BinaryOp::Sub => a.wrapping_sub(rhs),
        BinaryOp::Mul => a.wrapping_mul(rhs & mask(ty)),
        BinaryOp::And => a & rhs,
        BinaryOp::Or => a | rhs,
        BinaryOp::Xor => a ^ rhs,
        BinaryOp::Shl if u64::from(n) <= count => 0,
        BinaryOp::Shl => a << count,
        BinaryOp::Shr if u64::from(n) <= count => 0,
        BinaryOp::Shr => a >> count,
        BinaryOp::Sar => (sext(ty, a) >> count.min(63)) as u64,
    };
    r & mask(ty)
}

/// `op src` where `src` has type `ty`: the result type and bits.
pub fn unary(op: UnaryOp, ty: Type, src: u64) -> (Type, u64) {
    let a = src & mask(ty);
    match op {
        UnaryOp::Neg => (ty, a.wrapping_neg() & mask(ty)),
        UnaryOp::Not => (ty, !a & mask(ty)),
        UnaryOp::Sx1 => (Type::Pint, sext(Type::G1, a) as u64),
        UnaryOp::Sx2 => (Type::Pint, sext(Type::G2, a) as u64),
        UnaryOp::Sx4 => (Type::Pint, sext(Type::G4, a) as u64),
        UnaryOp::Zx1 => (Type::Pint, a & 0xff),
        UnaryOp::Zx2 => (Type::Pint, a & 0xffff),
        UnaryOp::Zx4 => (Type::Pint, a & 0xffff_ffff),
        UnaryOp::Tr1 => (Type::G1, a & 0xff),
        UnaryOp::Tr2 => (Type::G2, a & 0xffff),
        UnaryOp::Tr4 => (Type::G4, a & 0xffff_ffff),
    }
}

/// Whether `lhs pred rhs` holds at the width of `ty`.
pub fn compare(pred: Predicate, ty: Type, lhs: u64, rhs: u64) -> bool {
    let (a, b) = (lhs & mask(ty), rhs & mask(ty));
    let (sa, sb) = (sext(ty, a), sext(ty, b));
    match pred {
        Predicate::Eq => a == b,
        Predicate::Ne => a != b,
        Predicate::Lt => sa < sb,
        Predicate::Le => sa <= sb,
        Predicate::Gt => sa > sb,
        Predicate::Ge => sa >= sb,
        Predicate::Ult => a < b,
        Predicate::Ule => a <= b,
        Predicate::Ugt => a > b,
        Predicate::Uge => a >= b,
    }
}

/// Edge values of a general-purpose type: 0, 1, 2, -1, the signed extremes
/// and their neighbours, and two irregular patterns.
pub fn edge_values(ty: Type) -> Vec<u64> {
    let m = mask(ty);
    let min = 1u64 << (ty.bits() - 1);
    let mut v = vec![
        0,
        1,
        2,
        m,
        m - 1,
        min,
        min - 1,
        min + 1,
        0x5A5A_5A5A_5A5A_5A5A & m,
        0x8123_4567_89AB_CDEF & m,
    ];
    v.sort_unstable();
    v.dedup();
    v
}

/// The LIL text of an immediate of type `ty` with bits `bits`: negative
/// when the value is negative at that width (so it always fits the type).
pub fn imm(ty: Type, bits: u64) -> String {
    let s = sext(ty, bits & mask(ty));
    if s < 0 {
        format!("{s}")
    } else {
        format!("{:#x}", bits & mask(ty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lil_syntax::Type::*;

    #[test]
    fn shifts_follow_the_rules() {
        assert_eq!(binary(BinaryOp::Shl, G1, 1, 7, G1), 0x80);
        assert_eq!(binary(BinaryOp::Shl, G1, 1, 8, G1), 0);
        assert_eq!(binary(BinaryOp::Shl, G1, 1, 32, G1), 1, "32 mod 32 = 0");
        assert_eq!(binary(BinaryOp::Sar, G1, 0x80, 9, G1), 0xff);
        assert_eq!(binary(BinaryOp::Shr, G2, 0x8000, 15, G2), 1);
        assert_eq!(binary(BinaryOp::Sar, G4, 0x8000_0000, 33, G4), 0xc000_0000);
        assert_eq!(binary(BinaryOp::Shl, G8, 3, 64, G8), 3, "64 mod 64 = 0");
        assert_eq!(binary(BinaryOp::Shr, G8, u64::MAX, 63, G8), 1);
    }

    #[test]
    fn comparisons_are_at_the_width() {
        assert!(compare(Predicate::Lt, G1, 0x80, 0));
        assert!(compare(Predicate::Ugt, G1, 0x80, 0));
        assert!(compare(Predicate::Eq, G4, 0x1_0000_0005, 5));
        assert_eq!(imm(G1, 0xff), "-1");
        assert_eq!(imm(G2, 0x7fff), "0x7fff");
    }
}

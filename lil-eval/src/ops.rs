//! The value semantics of LIL's operations, as pure functions on bits.
//!
//! Every function takes values as `u64` bit patterns of a LIL type and
//! returns the result masked to the result type's width: a `gN` value is
//! exactly `8N` bits (docs/LANGUAGE.md, "Types and values"). Callers may
//! pass operands with junk above their width; it is ignored.

use lil_syntax::{BinaryOp, Predicate, Type, UnaryOp};

/// The bits of a value of type `ty`: all ones in its low `ty.bits()` bits.
pub fn mask(ty: Type) -> u64 {
    match ty.bits() {
        64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

/// `bits`, taken at the width of `ty`, sign-extended to 64 bits.
pub fn sext(ty: Type, bits: u64) -> i64 {
    let n = ty.bits();
    if n == 64 {
        bits as i64
    } else {
        ((bits << (64 - n)) as i64) >> (64 - n)
    }
}

/// `lhs op rhs` computed at the general type `ty`.
///
/// For the shifts `rhs` is the count (of any general type: only its low six
/// bits can matter), taken modulo 32 for `g1`/`g2`/`g4` and modulo 64 for
/// the 64-bit types; a count at or above the width shifts every bit out
/// (`<<`, `>>u` give 0, `>>` gives copies of the sign bit).
pub fn binary(op: BinaryOp, ty: Type, lhs: u64, rhs: u64) -> u64 {
    let m = mask(ty);
    let (a, b) = (lhs & m, rhs & m);
    let width = u64::from(ty.bits());
    let count = rhs & if width == 64 { 63 } else { 31 };
    let result = match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::And => a & b,
        BinaryOp::Or => a | b,
        BinaryOp::Xor => a ^ b,
        BinaryOp::Shl if count >= width => 0,
        BinaryOp::Shl => a << count,
        BinaryOp::Shr if count >= width => 0,
        BinaryOp::Shr => a >> count,
        // `count` is at most 63, and a narrow value sign-extended to 64 bits
        // shifted by its width or more is all copies of its sign bit.
        BinaryOp::Sar => (sext(ty, a) >> count) as u64,
    };
    result & m
}

/// `op src` where `src` has the general type `ty`: the result type and bits.
/// `neg` and `not` keep the type; the extensions give a `pint`.
pub fn unary(op: UnaryOp, ty: Type, src: u64) -> (Type, u64) {
    let m = mask(ty);
    let a = src & m;
    match op {
        UnaryOp::Neg => (ty, a.wrapping_neg() & m),
        UnaryOp::Not => (ty, !a & m),
        UnaryOp::Sx1 => (Type::Pint, sext(Type::G1, a) as u64),
        UnaryOp::Sx2 => (Type::Pint, sext(Type::G2, a) as u64),
        UnaryOp::Sx4 => (Type::Pint, sext(Type::G4, a) as u64),
        UnaryOp::Zx1 => (Type::Pint, a & mask(Type::G1)),
        UnaryOp::Zx2 => (Type::Pint, a & mask(Type::G2)),
        UnaryOp::Zx4 => (Type::Pint, a & mask(Type::G4)),
        UnaryOp::Tr1 => (Type::G1, a & mask(Type::G1)),
        UnaryOp::Tr2 => (Type::G2, a & mask(Type::G2)),
        UnaryOp::Tr4 => (Type::G4, a & mask(Type::G4)),
    }
}

/// Extend the low `size` bytes (1, 2 or 4) of `bits` to 64 bits, signed or
/// not: what `ld …, sx|zx` does to a narrow load.
pub fn extend(size: u32, signed: bool, bits: u64) -> u64 {
    let ty = match size {
        1 => Type::G1,
        2 => Type::G2,
        4 => Type::G4,
        _ => Type::G8,
    };
    if signed {
        sext(ty, bits) as u64
    } else {
        bits & mask(ty)
    }
}

/// Whether `lhs pred rhs` holds for two values of the general type `ty`:
/// signed predicates read both as signed `8N`-bit integers, unsigned ones
/// as unsigned.
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

/// The bits of an immediate as written (`-1`, `0xff`, …): its two's
/// complement, truncated to 64 bits, then to the type's width. The checker
/// has made sure it fits (E0227), so either reading gives the same bits.
pub fn immediate(value: i128, ty: Type) -> u64 {
    (value as u64) & mask(ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lil_syntax::Type::*;

    #[test]
    fn the_examples_of_language_md() {
        // "So g1 0x80 >> 9 is 0xff and 0x80 >>u 9 is 0."
        assert_eq!(binary(BinaryOp::Sar, G1, 0x80, 9), 0xff);
        assert_eq!(binary(BinaryOp::Shr, G1, 0x80, 9), 0);
        // Counts modulo 32 for narrow types, 64 for wide ones.
        assert_eq!(binary(BinaryOp::Shl, G1, 1, 32), 1);
        assert_eq!(binary(BinaryOp::Shl, G1, 1, 8), 0);
        assert_eq!(binary(BinaryOp::Shl, G4, 1, 31), 0x8000_0000);
        assert_eq!(binary(BinaryOp::Shl, G8, 3, 64), 3);
        assert_eq!(binary(BinaryOp::Sar, G8, 1 << 63, 63), u64::MAX);
        assert_eq!(binary(BinaryOp::Sar, G4, 0x8000_0000, 33), 0xc000_0000);
        assert_eq!(binary(BinaryOp::Shr, G2, 0x8000, 15), 1);
        assert_eq!(
            binary(BinaryOp::Sar, G2, 0x8000, 255),
            0xffff,
            "255 mod 32 = 31"
        );
    }

    #[test]
    fn arithmetic_wraps_at_the_width_and_ignores_junk() {
        assert_eq!(binary(BinaryOp::Add, G1, 0xff, 1), 0);
        assert_eq!(binary(BinaryOp::Add, G1, 0x1234_56ff, 0xabcd_0001), 0);
        assert_eq!(binary(BinaryOp::Sub, G2, 0, 1), 0xffff);
        assert_eq!(binary(BinaryOp::Mul, G4, 0x8000_0001, 3), 0x8000_0003);
        assert_eq!(binary(BinaryOp::Mul, G8, u64::MAX, u64::MAX), 1);
        assert_eq!(unary(UnaryOp::Neg, G1, 0x80), (G1, 0x80));
        assert_eq!(unary(UnaryOp::Not, G2, 0xdead_0000), (G2, 0xffff));
    }

    #[test]
    fn extensions_give_pints() {
        assert_eq!(unary(UnaryOp::Sx1, G8, 0x80), (Pint, 0xffff_ffff_ffff_ff80));
        assert_eq!(unary(UnaryOp::Zx1, G8, 0x1ff), (Pint, 0xff));
        assert_eq!(
            unary(UnaryOp::Sx4, G4, 0x8000_0000),
            (Pint, 0xffff_ffff_8000_0000)
        );
        assert_eq!(unary(UnaryOp::Zx2, G2, 0xffff), (Pint, 0xffff));
        assert_eq!(extend(2, true, 0xffff_8000), 0xffff_ffff_ffff_8000);
        assert_eq!(extend(4, false, 0xffff_ffff_8000_0000), 0x8000_0000);
    }

    #[test]
    fn comparisons_read_the_width() {
        assert!(compare(Predicate::Lt, G1, 0x80, 0));
        assert!(compare(Predicate::Ugt, G1, 0x80, 0));
        assert!(compare(Predicate::Eq, G4, 0x1_0000_0005, 5));
        assert!(!compare(Predicate::Ge, G8, 1 << 63, 0));
        assert!(compare(Predicate::Uge, G8, 1 << 63, 0));
    }

    #[test]
    fn immediates_take_either_reading() {
        assert_eq!(immediate(-1, G1), 0xff);
        assert_eq!(immediate(0xff, G1), 0xff);
        assert_eq!(immediate(-1, G8), u64::MAX);
        assert_eq!(immediate(u64::MAX as i128, Pint), u64::MAX);
        assert_eq!(immediate(i64::MIN as i128, G8), 1 << 63);
    }
}

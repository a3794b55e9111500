//! Where the C calling conventions of the machines put LIL values.
//!
//! System V x86-64 and AAPCS64 agree for every LIL type: a general-purpose
//! value (`g1`..`g8`, `ref`, `pint`) takes the next free integer argument
//! register, an `f4`/`f8` the next free vector register, and an argument that
//! finds no register takes the next 8-byte stack slot, in parameter order,
//! starting at the stack pointer at the call. Only the number of argument
//! registers differs, so a convention is a [`CConvention`] value and both
//! machines share [`assign_args`]. Invariant: stack slots are numbered in
//! parameter order with no gaps, so the stack area is `8 * stack_slots` bytes
//! before rounding up to the 16-byte alignment both targets require.

use crate::{HostSig, MachineError, Value};
use lil_syntax::Type;

/// The argument-passing facts of a C calling convention for LIL's types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CConvention {
    /// Integer argument registers (rdi, rsi, rdx, rcx, r8, r9 on x86-64; x0-x7 on AArch64).
    pub gpr_args: u8,
    /// Floating-point argument registers (xmm0-xmm7; v0-v7).
    pub fpr_args: u8,
    /// Alignment of the stack pointer at a call, in bytes.
    pub stack_align: u32,
}

/// System V x86-64.
pub const SYSV_X64: CConvention = CConvention {
    gpr_args: 6,
    fpr_args: 8,
    stack_align: 16,
};

/// AAPCS64 (Linux AArch64).
pub const AAPCS64: CConvention = CConvention {
    gpr_args: 8,
    fpr_args: 8,
    stack_align: 16,
};

/// Where one argument lives at the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgLocation {
    /// The `n`-th integer argument register.
    Gpr(u8),
    /// The `n`-th floating-point argument register (its low 32 or 64 bits).
    Fpr(u8),
    /// The `n`-th 8-byte stack slot above the stack pointer at the call.
    Stack(u32),
}

/// The locations of a parameter list, and how many stack slots it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgAssignment {
    /// One location per parameter, in order.
    pub locations: Vec<ArgLocation>,
    /// Number of 8-byte stack slots used (not rounded for alignment).
    pub stack_slots: u32,
}

impl ArgAssignment {
    /// The size of the stack argument area, rounded up to the convention's alignment.
    pub fn stack_bytes(&self, conv: CConvention) -> u64 {
        let bytes = u64::from(self.stack_slots) * 8;
        let align = u64::from(conv.stack_align.max(1));
        bytes.div_ceil(align) * align
    }
}

/// Assign each parameter of `params` a register or stack slot under `conv`.
pub fn assign_args(conv: CConvention, params: &[Type]) -> ArgAssignment {
    let (mut gpr, mut fpr, mut stack) = (0u8, 0u8, 0u32);
    let locations = params
        .iter()
        .map(|ty| {
            if ty.is_float() && fpr < conv.fpr_args {
                fpr += 1;
                ArgLocation::Fpr(fpr - 1)
            } else if ty.is_general() && gpr < conv.gpr_args {
                gpr += 1;
                ArgLocation::Gpr(gpr - 1)
            } else {
                stack += 1;
                ArgLocation::Stack(stack - 1)
            }
        })
        .collect();
    ArgAssignment {
        locations,
        stack_slots: stack,
    }
}

/// A value of type `ty` from the raw 64 bits of its register or stack slot
/// (the bits above the type's width are dropped).
pub fn value_from_raw(ty: Type, raw: u64) -> Value {
    Value { ty, bits: raw }.normalized()
}

/// Check that `args` match the parameter types of `sig`: same count, and each
/// argument of the same register class and width as its parameter (so a
/// `pint` may stand for a `ref` or `g8`).
pub fn check_args(sig: &HostSig, args: &[Value]) -> Result<(), MachineError> {
    if args.len() != sig.params.len() {
        return Err(MachineError::Execution(format!(
            "call with {} arguments, the signature has {} parameters",
            args.len(),
            sig.params.len()
        )));
    }
    for (i, (arg, ty)) in args.iter().zip(&sig.params).enumerate() {
        if arg.ty.is_float() != ty.is_float() || arg.ty.size() != ty.size() {
            return Err(MachineError::Execution(format!(
                "argument {i} has type {}, the signature says {ty}",
                arg.ty
            )));
        }
    }
    Ok(())
}

/// The text of a caught panic payload, for [`MachineError::Execution`].
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a host function panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_goes_to_the_stack_in_order_per_class() {
        use ArgLocation::*;
        let mut params = vec![Type::G8; 8];
        params.extend([Type::F8; 9]);
        params.push(Type::G4);
        let x64 = assign_args(SYSV_X64, &params);
        assert_eq!(
            &x64.locations[..6],
            &[Gpr(0), Gpr(1), Gpr(2), Gpr(3), Gpr(4), Gpr(5)]
        );
        assert_eq!(&x64.locations[6..8], &[Stack(0), Stack(1)]);
        assert_eq!(x64.locations[8], Fpr(0));
        assert_eq!(x64.locations[16], Stack(2));
        assert_eq!(x64.locations[17], Stack(3));
        assert_eq!(x64.stack_bytes(SYSV_X64), 32);
        let a64 = assign_args(AAPCS64, &params);
        assert_eq!(a64.locations[7], Gpr(7));
        assert_eq!(a64.locations[16], Stack(0));
        assert_eq!(a64.locations[17], Stack(1));
        assert_eq!(a64.stack_slots, 2);
    }

    #[test]
    fn odd_stack_area_is_rounded_to_sixteen() {
        let a = assign_args(AAPCS64, &[Type::G8; 9]);
        assert_eq!(a.stack_slots, 1);
        assert_eq!(a.stack_bytes(AAPCS64), 16);
    }

    #[test]
    fn check_args_rejects_count_and_type_mismatch() {
        let sig = HostSig::new(&[Type::G8, Type::F8], None);
        assert!(check_args(&sig, &[Value::int(Type::G8, 1), Value::f8(1.0)]).is_ok());
        assert!(check_args(&sig, &[Value::int(Type::G8, 1)]).is_err());
        assert!(check_args(&sig, &[Value::int(Type::G8, 1), Value::int(Type::G8, 1)]).is_err());
        assert!(check_args(&sig, &[Value::int(Type::G4, 1), Value::f8(1.0)]).is_err());
        assert!(check_args(&sig, &[Value::pint(1), Value::f8(1.0)]).is_ok());
    }
}

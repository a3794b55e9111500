//! Targets described as data: registers, their roles, calling conventions.
//!
//! Each emitter crate provides one [`TargetDesc`]; the frame planner and
//! every shared algorithm read it instead of branching on the ISA. A
//! calling convention is a [`CallingConvention`] value; `platform`, `jni`
//! and `stdcall` are the C ABI of the target, `managed` and `rth` the C ABI
//! unless the host describes its own ([`crate::HostEnv`]).

use lil_syntax::Type;
use std::borrow::Cow;
use std::fmt;

/// An instruction set LIL-rs generates code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// x86-64, System V ABI.
    X64,
    /// AArch64, AAPCS64.
    Arm64,
}

impl Target {
    /// The target of the machine this code runs on, if it is supported.
    pub const fn host() -> Option<Target> {
        if cfg!(target_arch = "x86_64") {
            Some(Target::X64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Target::Arm64)
        } else {
            None
        }
    }

    /// A short name: `x64` or `arm64`.
    pub const fn name(self) -> &'static str {
        match self {
            Target::X64 => "x64",
            Target::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// General-purpose or floating-point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegClass {
    /// Integer and pointer registers.
    General,
    /// Floating-point / vector registers.
    Float,
}

impl RegClass {
    /// The class a value of type `ty` lives in.
    pub fn of(ty: Type) -> RegClass {
        if ty.is_float() {
            RegClass::Float
        } else {
            RegClass::General
        }
    }
}

/// A machine register: its class and its number in the ISA's encoding
/// (x86-64: rax=0 … r15=15, xmm0=0 …; AArch64: x0=0 … x30=30, sp=31, v0=0 …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg {
    /// Register class.
    pub class: RegClass,
    /// Number in the ISA's encoding.
    pub num: u8,
}

impl Reg {
    /// A general-purpose register.
    pub const fn gp(num: u8) -> Reg {
        Reg {
            class: RegClass::General,
            num,
        }
    }
    /// A floating-point register.
    pub const fn fp(num: u8) -> Reg {
        Reg {
            class: RegClass::Float,
            num,
        }
    }
}

/// A calling convention as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallingConvention {
    /// For messages.
    pub name: Cow<'static, str>,
    /// General-purpose argument registers, in order.
    pub gp_args: Cow<'static, [u8]>,
    /// Floating-point argument registers, in order.
    pub fp_args: Cow<'static, [u8]>,
    /// General-purpose result register.
    pub gp_ret: u8,
    /// Floating-point result register.
    pub fp_ret: u8,
    /// Bytes per stack argument slot.
    pub stack_slot: u32,
    /// Alignment of the stack pointer at a call.
    pub stack_align: u32,
    /// General-purpose registers a callee preserves.
    pub callee_saved_gp: Cow<'static, [u8]>,
    /// Floating-point registers a callee preserves (their low 64 bits).
    pub callee_saved_fp: Cow<'static, [u8]>,
}

/// Where one argument of a signature is passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgLoc {
    /// In a register.
    Reg(Reg),
    /// In the stack argument area, at this byte offset from its start.
    Stack(u32),
}

impl CallingConvention {
    /// Where each parameter of `params` goes, in order, without allocating.
    pub fn arg_locs<'a>(&'a self, params: &'a [Type]) -> impl Iterator<Item = ArgLoc> + 'a {
        let (mut g, mut f, mut stack) = (0usize, 0usize, 0u32);
        params.iter().map(move |t| {
            let (regs, next) = if t.is_float() {
                (&self.fp_args, &mut f)
            } else {
                (&self.gp_args, &mut g)
            };
            match regs.get(*next) {
                Some(&num) => {
                    *next += 1;
                    ArgLoc::Reg(Reg {
                        class: RegClass::of(*t),
                        num,
                    })
                }
                None => {
                    let at = stack;
                    stack += self.stack_slot;
                    ArgLoc::Stack(at)
                }
            }
        })
    }

    /// Where parameter `k` of `params` goes: what [`CallingConvention::arg_locs`]
    /// gives for it, from counts of the parameters before it rather than
    /// by placing each of them (an `out` stub's outputs are located one
    /// at a time, as they are written).
    #[inline]
    pub fn locate_one(&self, params: &[Type], k: usize) -> Option<ArgLoc> {
        let t = *params.get(k)?;
        let floats = params.iter().take(k).filter(|p| p.is_float()).count();
        let gps = k - floats;
        let (regs, same) = if t.is_float() {
            (&self.fp_args, floats)
        } else {
            (&self.gp_args, gps)
        };
        if let Some(&num) = regs.get(same) {
            return Some(ArgLoc::Reg(Reg {
                class: RegClass::of(t),
                num,
            }));
        }
        // On the stack, after every earlier parameter its class's
        // registers ran out for.
        let spilled =
            floats.saturating_sub(self.fp_args.len()) + gps.saturating_sub(self.gp_args.len());
        Some(ArgLoc::Stack(spilled as u32 * self.stack_slot))
    }

    /// Where each parameter of `params` goes, and the bytes of stack arguments.
    pub fn locate(&self, params: &[Type]) -> (Vec<ArgLoc>, u32) {
        let (mut g, mut f, mut stack) = (0usize, 0usize, 0u32);
        let locs = params
            .iter()
            .map(|t| {
                let (regs, next) = if t.is_float() {
                    (&self.fp_args, &mut f)
                } else {
                    (&self.gp_args, &mut g)
                };
                match regs.get(*next) {
                    Some(&num) => {
                        *next += 1;
                        ArgLoc::Reg(Reg {
                            class: RegClass::of(*t),
                            num,
                        })
                    }
                    None => {
                        let at = stack;
                        stack += self.stack_slot;
                        ArgLoc::Stack(at)
                    }
                }
            })
            .collect();
        (locs, stack)
    }

    /// The result register for a return type.
    pub fn ret_reg(&self, ty: Type) -> Reg {
        if ty.is_float() {
            Reg::fp(self.fp_ret)
        } else {
            Reg::gp(self.gp_ret)
        }
    }
}

/// Everything the shared layer needs to know about an ISA.
#[derive(Clone, Debug)]
pub struct TargetDesc {
    /// Which ISA.
    pub target: Target,
    /// The C ABI (`platform`, `jni`, `stdcall`, and the default `managed`/`rth`).
    pub c_abi: CallingConvention,
    /// The registers of `sp0..sp3` (general-purpose).
    pub std_places: [u8; 4],
    /// Where `r` lives when it holds a general-purpose value.
    pub ret_gp: u8,
    /// Where `r` lives when it holds a floating-point value.
    pub ret_fp: u8,
    /// Registers the emitter may use freely inside one instruction
    /// (never allocated to a variable), general-purpose, in preference
    /// order; the plan takes the first `scratch_count` not otherwise used.
    pub scratch_gp: &'static [u8],
    /// How many general-purpose scratch registers the emitter needs.
    pub scratch_count: usize,
    /// Floating-point scratch registers.
    pub scratch_fp: &'static [u8],
    /// The frame pointer.
    pub frame_pointer: u8,
    /// Registers never touched (stack pointer, platform register, frame pointer).
    pub reserved_gp: &'static [u8],
    /// Caller-saved general-purpose registers locals may use, in preference order.
    pub locals_caller_saved_gp: &'static [u8],
    /// Callee-saved general-purpose registers locals may use, in preference order.
    pub locals_callee_saved_gp: &'static [u8],
    /// Caller-saved floating-point registers locals may use.
    pub locals_caller_saved_fp: &'static [u8],
    /// Callee-saved floating-point registers locals may use.
    pub locals_callee_saved_fp: &'static [u8],
    /// The callee-saved general-purpose registers recorded in an M2N frame
    /// (`M2nFrame::saved_gp`, in this order), so a stack walker can
    /// restore the caller's registers.
    pub m2n_saved_gp: &'static [u8],
    /// The callee-saved floating-point registers `m2n_save_all` records.
    pub m2n_saved_fp: &'static [u8],
    /// Standard places that live in callee-saved registers of the C ABI
    /// (`sp2`, `sp3` on x86-64): a stub that writes them without having
    /// received them saves and restores them like any callee-saved register.
    pub callee_saved_std_places: u32,
}

impl TargetDesc {
    /// The register of standard place `k`.
    pub fn std_place(&self, k: u32) -> Option<Reg> {
        self.std_places.get(k as usize).map(|&n| Reg::gp(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// `locate_one` agrees with `arg_locs` for every parameter of every
    /// signature of up to seven general/float parameters, with registers
    /// running out in either class.
    #[test]
    fn locate_one_matches_arg_locs() {
        let cc = CallingConvention {
            name: Cow::Borrowed("test"),
            gp_args: Cow::Borrowed(&[7, 6, 2]),
            fp_args: Cow::Borrowed(&[0, 1]),
            gp_ret: 0,
            fp_ret: 0,
            stack_slot: 8,
            stack_align: 16,
            callee_saved_gp: Cow::Borrowed(&[]),
            callee_saved_fp: Cow::Borrowed(&[]),
        };
        for len in 0..=7 {
            for bits in 0u32..1 << len {
                let params: Vec<Type> = (0..len)
                    .map(|i| {
                        if bits >> i & 1 == 1 {
                            Type::F8
                        } else {
                            Type::G4
                        }
                    })
                    .collect();
                let all: Vec<ArgLoc> = cc.arg_locs(&params).collect();
                for k in 0..=len {
                    assert_eq!(
                        cc.locate_one(&params, k),
                        all.get(k).copied(),
                        "{params:?} {k}"
                    );
                }
            }
        }
    }
}

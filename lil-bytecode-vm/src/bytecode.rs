//! The bytecode: opcodes, their inline operands, and decoding.
//!
//! An instruction is a one-byte opcode followed by its operands, little
//! endian, unaligned. Branch offsets are relative to the address of the
//! operand itself (the byte after the opcode), which is where the handler's
//! instruction pointer already points, so a taken branch is one `add`.
//!
//! Stack slots are addressed by depth below the top of stack: the top is
//! cached in a register (`sp3` in the LIL VM), and slot `s` is the element
//! at depth `s + 1`, the `s`-th word of the in-memory stack. The
//! [`Assembler`](crate::Assembler) turns frame-relative local numbers into
//! these depths, because it knows the stack height at every instruction.
//!
//! Invariant: [`Opcode::operand_len`] is the only description of the
//! encoding; the handlers, the reference interpreter and the decoder all use
//! it.

use std::fmt;

/// A bytecode opcode. The discriminant is the encoded byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Opcode {
    /// Stop the VM; its result is the top of stack. (Byte 0, so zeroed
    /// memory halts.)
    Halt = 0,
    /// Do nothing (the bare dispatch sequence).
    Nop = 1,
    /// `i32` operand: push it, sign-extended to 64 bits.
    Push = 2,
    /// Drop the top of stack.
    Pop = 3,
    /// Push a copy of the top of stack.
    Dup = 4,
    /// `a b -- a+b` (wrapping).
    Add = 5,
    /// `a b -- a-b` (wrapping).
    Sub = 6,
    /// `a b -- a*b` (wrapping, low 64 bits).
    Mul = 7,
    /// `a b -- (a<b)`: 1 if `a < b` as signed integers, else 0.
    Lt = 8,
    /// `i32` operand: jump by it (relative to the operand's address).
    Jmp = 9,
    /// `i32` operand: pop; jump by the operand if the value was zero.
    Jz = 10,
    /// `u8` slot `s`: push a copy of the element at depth `s + 1`.
    Load = 11,
    /// `u8` slot `s`: pop the top and store it into the element that was at
    /// depth `s + 1` (before the pop).
    Store = 12,
    /// `i32` operand: push the return address (the next instruction's
    /// address) and jump by the operand (relative to its address).
    Call = 13,
    /// `u8` slot `s`, `u16` byte count `d`: the return address is the element
    /// at depth `s + 1`; keep the top of stack, drop the `d / 8` elements
    /// below it (arguments, return address, locals) and jump back.
    Ret = 14,
    /// Pop the top of stack and print it (a call to a native helper).
    Print = 15,
}

impl Opcode {
    /// Every opcode, in encoding order.
    pub const ALL: [Opcode; 16] = [
        Opcode::Halt,
        Opcode::Nop,
        Opcode::Push,
        Opcode::Pop,
        Opcode::Dup,
        Opcode::Add,
        Opcode::Sub,
        Opcode::Mul,
        Opcode::Lt,
        Opcode::Jmp,
        Opcode::Jz,
        Opcode::Load,
        Opcode::Store,
        Opcode::Call,
        Opcode::Ret,
        Opcode::Print,
    ];

    /// The opcode encoded as `byte`, if any.
    pub fn from_byte(byte: u8) -> Option<Opcode> {
        Opcode::ALL.get(usize::from(byte)).copied()
    }

    /// Bytes of inline operands after the opcode byte.
    pub const fn operand_len(self) -> usize {
        match self {
            Opcode::Push | Opcode::Jmp | Opcode::Jz | Opcode::Call => 4,
            Opcode::Load | Opcode::Store => 1,
            Opcode::Ret => 3,
            Opcode::Halt
            | Opcode::Nop
            | Opcode::Pop
            | Opcode::Dup
            | Opcode::Add
            | Opcode::Sub
            | Opcode::Mul
            | Opcode::Lt
            | Opcode::Print => 0,
        }
    }

    /// The mnemonic used in listings.
    pub const fn name(self) -> &'static str {
        match self {
            Opcode::Halt => "halt",
            Opcode::Nop => "nop",
            Opcode::Push => "push",
            Opcode::Pop => "pop",
            Opcode::Dup => "dup",
            Opcode::Add => "add",
            Opcode::Sub => "sub",
            Opcode::Mul => "mul",
            Opcode::Lt => "lt",
            Opcode::Jmp => "jmp",
            Opcode::Jz => "jz",
            Opcode::Load => "load",
            Opcode::Store => "store",
            Opcode::Call => "call",
            Opcode::Ret => "ret",
            Opcode::Print => "print",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instr {
    /// Offset of the opcode byte in the code.
    pub offset: usize,
    /// The opcode.
    pub op: Opcode,
    /// The first operand (sign-extended for `i32` operands), 0 if none.
    pub a: i64,
    /// The second operand (`ret`'s byte count), 0 if none.
    pub b: i64,
}

impl Instr {
    /// Offset of the next instruction.
    pub fn next(&self) -> usize {
        self.offset + 1 + self.op.operand_len()
    }

    /// For `jmp`, `jz` and `call`: the offset of the target instruction.
    pub fn target(&self) -> Option<usize> {
        match self.op {
            Opcode::Jmp | Opcode::Jz | Opcode::Call => {
                usize::try_from(self.offset as i64 + 1 + self.a).ok()
            }
            _ => None,
        }
    }
}

impl fmt::Display for Instr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:5}: {}", self.offset, self.op)?;
        match self.op {
            Opcode::Push => write!(f, " {}", self.a),
            Opcode::Load | Opcode::Store => write!(f, " s{}", self.a),
            Opcode::Ret => write!(f, " s{}, {}", self.a, self.b),
            Opcode::Jmp | Opcode::Jz | Opcode::Call => match self.target() {
                Some(t) => write!(f, " @{t}"),
                None => write!(f, " {:+}", self.a),
            },
            _ => Ok(()),
        }
    }
}

/// Why bytes do not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A byte that is no opcode.
    #[error("byte {byte:#04x} at offset {offset} is not an opcode")]
    BadOpcode {
        /// Where.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The operands run past the end of the code.
    #[error("the operands of the instruction at offset {offset} run past the end of the code")]
    Truncated {
        /// Where the instruction starts.
        offset: usize,
    },
}

/// Decode the instruction at `offset`.
pub fn decode(code: &[u8], offset: usize) -> Result<Instr, DecodeError> {
    let byte = *code.get(offset).ok_or(DecodeError::Truncated { offset })?;
    let op = Opcode::from_byte(byte).ok_or(DecodeError::BadOpcode { offset, byte })?;
    let operands = code
        .get(offset + 1..offset + 1 + op.operand_len())
        .ok_or(DecodeError::Truncated { offset })?;
    let (a, b) = match op.operand_len() {
        0 => (0, 0),
        1 => (i64::from(operands[0]), 0),
        3 => (
            i64::from(operands[0]),
            i64::from(u16::from_le_bytes([operands[1], operands[2]])),
        ),
        _ => (
            i64::from(i32::from_le_bytes([
                operands[0],
                operands[1],
                operands[2],
                operands[3],
            ])),
            0,
        ),
    };
    Ok(Instr { offset, op, a, b })
}

/// Decode a whole program, instruction after instruction.
pub fn decode_all(code: &[u8]) -> Result<Vec<Instr>, DecodeError> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < code.len() {
        let instr = decode(code, offset)?;
        offset = instr.next();
        out.push(instr);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_round_trips_its_byte() {
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_byte(op as u8), Some(op));
        }
        assert_eq!(Opcode::from_byte(16), None);
    }

    #[test]
    fn decodes_operands_little_endian_and_signed() {
        let code = [
            2, 0xfe, 0xff, 0xff, 0xff, 14, 3, 0x10, 0x01, 9, 0xfb, 0xff, 0xff, 0xff,
        ];
        let all = decode_all(&code).unwrap();
        assert_eq!(all[0].a, -2);
        assert_eq!((all[1].a, all[1].b), (3, 0x110));
        assert_eq!(all[2].target(), Some(9 + 1 - 5));
        assert_eq!(
            decode(&[2, 0], 0),
            Err(DecodeError::Truncated { offset: 0 })
        );
        assert_eq!(
            decode(&[200], 0),
            Err(DecodeError::BadOpcode {
                offset: 0,
                byte: 200
            })
        );
    }
}

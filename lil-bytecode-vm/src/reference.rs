//! The reference interpreter: a plain Rust `loop { match op { … } }` over
//! the same bytecode, the oracle the LIL VM is tested against and the
//! baseline it is benchmarked against.
//!
//! It is written the way one writes an interpreter in safe Rust without
//! tricks: the stack is a `Vec<i64>` (top of stack is its last element),
//! operands are decoded from the byte slice at each step, the return address
//! is pushed on the VM stack as a code offset. It never panics on a
//! [`Program`] (the assembler verified it), and reports the same traps as
//! the LIL VM under the same rule (see [`Program::reserve`]).

use crate::asm::Program;
use crate::bytecode::Opcode;

/// What a run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The top of stack at `halt`.
    pub result: i64,
    /// Every value `print` printed, in order.
    pub output: Vec<i64>,
}

/// Why a run stopped without `halt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Trap {
    /// A `call` left fewer than [`Program::reserve`] free slots.
    #[error("VM stack overflow")]
    StackOverflow,
    /// A byte that is not an opcode was executed (never happens for a
    /// verified program).
    #[error("illegal opcode")]
    IllegalOpcode,
    /// The stack cannot hold the program's main frame plus one call's reserve.
    #[error("a stack of {capacity} slots is too small: the program needs {needs}")]
    StackTooSmall {
        /// Slots the program needs at least.
        needs: usize,
        /// Slots the stack has.
        capacity: usize,
    },
}

const HALT: u8 = Opcode::Halt as u8;
const NOP: u8 = Opcode::Nop as u8;
const PUSH: u8 = Opcode::Push as u8;
const POP: u8 = Opcode::Pop as u8;
const DUP: u8 = Opcode::Dup as u8;
const ADD: u8 = Opcode::Add as u8;
const SUB: u8 = Opcode::Sub as u8;
const MUL: u8 = Opcode::Mul as u8;
const LT: u8 = Opcode::Lt as u8;
const JMP: u8 = Opcode::Jmp as u8;
const JZ: u8 = Opcode::Jz as u8;
const LOAD: u8 = Opcode::Load as u8;
const STORE: u8 = Opcode::Store as u8;
const CALL: u8 = Opcode::Call as u8;
const RET: u8 = Opcode::Ret as u8;
const PRINT: u8 = Opcode::Print as u8;

/// The slots a program needs on a stack (see [`Program::fits`]).
pub(crate) fn needs(program: &Program) -> usize {
    program.main_max() as usize + program.reserve() as usize
}

/// Run `program` on a stack of `capacity` slots.
///
/// ```
/// use lil_bytecode_vm::{programs, reference};
/// let out = reference::run(&programs::fib(10), 1 << 12)?;
/// assert_eq!(out.output, vec![55]);
/// # Ok::<(), reference::Trap>(())
/// ```
pub fn run(program: &Program, capacity: usize) -> Result<Outcome, Trap> {
    if !program.fits(capacity) {
        return Err(Trap::StackTooSmall {
            needs: needs(program),
            capacity,
        });
    }
    let limit = capacity - program.reserve() as usize;
    let code = program.code();
    let mut stack: Vec<i64> = Vec::with_capacity(capacity);
    let mut output = Vec::new();
    let mut pc = 0usize;
    loop {
        let op = byte(code, pc);
        pc += 1;
        match op {
            HALT => {
                return Ok(Outcome {
                    result: stack.last().copied().unwrap_or_default(),
                    output,
                });
            }
            NOP => {}
            PUSH => {
                stack.push(i32_at(code, pc));
                pc += 4;
            }
            POP => {
                stack.pop();
            }
            DUP => {
                let v = top(&stack);
                stack.push(v);
            }
            ADD => {
                let b = pop(&mut stack);
                let a = pop(&mut stack);
                stack.push(a.wrapping_add(b));
            }
            SUB => {
                let b = pop(&mut stack);
                let a = pop(&mut stack);
                stack.push(a.wrapping_sub(b));
            }
            MUL => {
                let b = pop(&mut stack);
                let a = pop(&mut stack);
                stack.push(a.wrapping_mul(b));
            }
            LT => {
                let b = pop(&mut stack);
                let a = pop(&mut stack);
                stack.push(i64::from(a < b));
            }
            JMP => {
                pc = pc.wrapping_add_signed(i32_at(code, pc) as isize);
            }
            JZ => {
                if pop(&mut stack) == 0 {
                    pc = pc.wrapping_add_signed(i32_at(code, pc) as isize);
                } else {
                    pc += 4;
                }
            }
            LOAD => {
                let v = below(&stack, byte(code, pc));
                stack.push(v);
                pc += 1;
            }
            STORE => {
                let at = stack.len().wrapping_sub(2 + usize::from(byte(code, pc)));
                let v = pop(&mut stack);
                if let Some(slot) = stack.get_mut(at) {
                    *slot = v;
                }
                pc += 1;
            }
            CALL => {
                let target = pc.wrapping_add_signed(i32_at(code, pc) as isize);
                stack.push((pc + 4) as i64);
                if stack.len() > limit {
                    return Err(Trap::StackOverflow);
                }
                pc = target;
            }
            RET => {
                let ra = below(&stack, byte(code, pc));
                let drop = usize::from(byte(code, pc + 1)) | usize::from(byte(code, pc + 2)) << 8;
                let result = pop(&mut stack);
                stack.truncate(stack.len().saturating_sub(drop / 8));
                stack.push(result);
                pc = ra as usize;
            }
            PRINT => {
                output.push(pop(&mut stack));
            }
            _ => return Err(Trap::IllegalOpcode),
        }
    }
}

/// The byte at `at` (a `halt` past the end: the verifier never lets control
/// get there).
#[inline(always)]
fn byte(code: &[u8], at: usize) -> u8 {
    code.get(at).copied().unwrap_or(HALT)
}

#[inline(always)]
fn i32_at(code: &[u8], at: usize) -> i64 {
    match code.get(at..at + 4) {
        Some(&[a, b, c, d]) => i64::from(i32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

#[inline(always)]
fn pop(stack: &mut Vec<i64>) -> i64 {
    stack.pop().unwrap_or_default()
}

#[inline(always)]
fn top(stack: &[i64]) -> i64 {
    stack.last().copied().unwrap_or_default()
}

/// The element in slot `slot`: at depth `slot + 1` below the top.
#[inline(always)]
fn below(stack: &[i64], slot: u8) -> i64 {
    let at = stack.len().wrapping_sub(2 + usize::from(slot));
    stack.get(at).copied().unwrap_or_default()
}

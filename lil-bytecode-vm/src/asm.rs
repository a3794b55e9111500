//! The assembler: the only way to build a [`Program`], and its verifier.
//!
//! It tracks the stack height at every instruction, so it can turn frame
//! locals into the depth-relative slots the bytecode uses and reject any
//! program that would read below its frame, reach an instruction with two
//! different heights, or overwrite a return address. A [`Program`] is
//! therefore safe to run: the handlers do no checks except the stack limit
//! at `call` (recursion depth is the only height not known statically).
//!
//! # Frames
//!
//! A function with `n` arguments starts with its arguments (argument 0
//! deepest) and the return address on the stack; [`Assembler::locals`] adds
//! zero-initialised locals above them. Locals are numbered arguments first:
//! local `i < n` is argument `i`, local `n + k` is the `k`-th extra local.
//! Instructions that pop may only pop values pushed above the locals (the
//! *temporaries*), so a frame never loses a local or its return address.
//! `ret` returns the top of stack and removes the whole frame, arguments
//! included: after a call, the caller sees its arguments replaced by the
//! result. The main program is a frame without arguments or return address.
//!
//! Invariant: every error is recorded with the offset of the instruction it
//! concerns, and [`Assembler::finish`] reports all of them.

use std::fmt;

use crate::bytecode::Opcode;

/// A branch target inside one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// A function: a call target with a fixed number of arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Func(u32);

/// What the assembler rejects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// An instruction pops more temporaries than the frame has.
    #[error("at {offset}: `{op}` needs {needs} value(s) above the locals, the frame has {has}")]
    StackUnderflow {
        /// Offset of the instruction.
        offset: usize,
        /// The instruction.
        op: Opcode,
        /// Temporaries it pops.
        needs: u32,
        /// Temporaries there are.
        has: u32,
    },
    /// A local the frame does not have.
    #[error("at {offset}: local {local} does not exist (the frame has {count})")]
    NoSuchLocal {
        /// Offset of the instruction.
        offset: usize,
        /// The local.
        local: u32,
        /// Locals in the frame.
        count: u32,
    },
    /// A slot deeper than one byte (or a `ret` dropping more than a `u16`
    /// of bytes) can address.
    #[error("at {offset}: the frame is too deep to address (depth {depth})")]
    TooDeep {
        /// Offset of the instruction.
        offset: usize,
        /// The depth.
        depth: u32,
    },
    /// Two paths reach a label with different stack heights.
    #[error("at {offset}: paths reach a label with stack heights {expected} and {found}")]
    HeightMismatch {
        /// Offset where the second height was seen.
        offset: usize,
        /// The height recorded first.
        expected: u32,
        /// The other height.
        found: u32,
    },
    /// An instruction no path reaches (after `jmp`, `ret` or `halt`
    /// without a label that some jump targets).
    #[error("at {offset}: unreachable instruction")]
    Unreachable {
        /// Offset of the instruction.
        offset: usize,
    },
    /// Control falls off the end of a frame into the next function or past
    /// the end of the program.
    #[error("at {offset}: control falls through the end of a frame")]
    FallsThrough {
        /// Offset where the frame ends.
        offset: usize,
    },
    /// A label bound twice.
    #[error("at {offset}: label bound twice")]
    LabelBoundTwice {
        /// Offset of the second binding.
        offset: usize,
    },
    /// A label used but never bound.
    #[error("label {label} is used but never bound")]
    LabelUnbound {
        /// The label's number.
        label: u32,
    },
    /// A label used in two frames.
    #[error("at {offset}: label {label} belongs to another frame")]
    LabelInOtherFrame {
        /// Offset of the instruction.
        offset: usize,
        /// The label's number.
        label: u32,
    },
    /// A function whose body is begun twice.
    #[error("at {offset}: function {func} defined twice")]
    FunctionDefinedTwice {
        /// Offset of the second definition.
        offset: usize,
        /// The function's number.
        func: u32,
    },
    /// A function called but never defined.
    #[error("function {func} is called but never defined")]
    FunctionUndefined {
        /// The function's number.
        func: u32,
    },
    /// `ret` in the main program, which has no return address.
    #[error("at {offset}: `ret` outside a function (use `halt`)")]
    RetOutsideFunction {
        /// Offset of the instruction.
        offset: usize,
    },
    /// `locals` after the frame's first instruction, or twice.
    #[error("at {offset}: `locals` must come first in a frame, once")]
    LocalsNotFirst {
        /// Offset of the instruction.
        offset: usize,
    },
    /// More code than 32-bit branch offsets reach.
    #[error("the program is larger than 2 GiB")]
    TooLarge,
}

/// All errors of an assembly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct AsmErrors(pub Vec<AsmError>);

impl fmt::Display for AsmErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A verified bytecode program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    code: Vec<u8>,
    main_max: u32,
    frame_max: u32,
}

impl Program {
    /// The encoded instructions; execution starts at offset 0.
    pub fn code(&self) -> &[u8] {
        &self.code
    }

    /// The largest stack height the main program reaches.
    pub fn main_max(&self) -> u32 {
        self.main_max
    }

    /// The largest height any function frame reaches (arguments and return
    /// address included).
    pub fn frame_max(&self) -> u32 {
        self.frame_max
    }

    /// Stack slots a `call` must leave free: room for the largest callee
    /// frame, plus one. Both interpreters stop with a stack overflow when,
    /// after pushing a return address, the stack holds more than
    /// `capacity - reserve()` values.
    pub fn reserve(&self) -> u32 {
        self.frame_max + 1
    }

    /// Whether a stack of `capacity` slots can run this program at all.
    pub fn fits(&self, capacity: usize) -> bool {
        (self.main_max as usize) + (self.reserve() as usize) <= capacity
    }

    /// A listing, one instruction per line.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        if let Ok(all) = crate::bytecode::decode_all(&self.code) {
            for i in all {
                s.push_str(&i.to_string());
                s.push('\n');
            }
        }
        s
    }
}

#[derive(Clone, Debug, Default)]
struct LabelInfo {
    bound: Option<usize>,
    height: Option<u32>,
    frame: Option<u32>,
    /// Operand offsets of the branches to it.
    uses: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
struct FuncInfo {
    nargs: u32,
    entry: Option<usize>,
    /// Operand offsets of the calls to it.
    uses: Vec<usize>,
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    id: u32,
    nargs: u32,
    /// 1 in functions (the return address), 0 in the main program.
    ra: u32,
    nlocals: u32,
    /// Whether an instruction other than `locals` was emitted in it.
    started: bool,
}

impl Frame {
    /// Height of the frame with no temporaries.
    fn base(&self) -> u32 {
        self.nargs + self.ra + self.nlocals
    }
}

/// Builds a [`Program`], checking it as it goes.
///
/// ```
/// use lil_bytecode_vm::Assembler;
/// let mut a = Assembler::new();
/// let double = a.function(1);
/// a.push(21).call(double).print().push(0).halt();
/// a.begin(double);
/// a.load(0).load(0).add().ret();
/// let program = a.finish()?;
/// let out = lil_bytecode_vm::reference::run(&program, 1024)?;
/// assert_eq!(out.output, vec![42]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Assembler {
    code: Vec<u8>,
    errors: Vec<AsmError>,
    labels: Vec<LabelInfo>,
    funcs: Vec<FuncInfo>,
    frame: Frame,
    frames: u32,
    height: Option<u32>,
    main_max: u32,
    frame_max: u32,
}

impl Default for Assembler {
    fn default() -> Self {
        Assembler::new()
    }
}

impl Assembler {
    /// An assembler positioned at the start of the main program.
    pub fn new() -> Assembler {
        Assembler {
            code: Vec::new(),
            errors: Vec::new(),
            labels: Vec::new(),
            funcs: Vec::new(),
            frame: Frame {
                id: 0,
                nargs: 0,
                ra: 0,
                nlocals: 0,
                started: false,
            },
            frames: 1,
            height: Some(0),
            main_max: 0,
            frame_max: 0,
        }
    }

    /// A new label (bind it with [`Assembler::bind`]).
    pub fn label(&mut self) -> Label {
        self.labels.push(LabelInfo::default());
        Label(self.labels.len() as u32 - 1)
    }

    /// Declare a function taking `nargs` arguments (define it with
    /// [`Assembler::begin`]).
    pub fn function(&mut self, nargs: u32) -> Func {
        self.funcs.push(FuncInfo {
            nargs,
            ..FuncInfo::default()
        });
        Func(self.funcs.len() as u32 - 1)
    }

    /// Start the body of `func`. The previous frame must not fall through.
    pub fn begin(&mut self, func: Func) -> &mut Self {
        let offset = self.code.len();
        if self.height.is_some() {
            self.errors.push(AsmError::FallsThrough { offset });
        }
        let info = &mut self.funcs[func.0 as usize];
        if info.entry.is_some() {
            self.errors.push(AsmError::FunctionDefinedTwice {
                offset,
                func: func.0,
            });
        }
        info.entry = Some(offset);
        let nargs = info.nargs;
        self.frame = Frame {
            id: self.frames,
            nargs,
            ra: 1,
            nlocals: 0,
            started: false,
        };
        self.frames += 1;
        self.set_height(Some(nargs + 1));
        self
    }

    /// Add `n` zero-initialised locals to the current frame (first thing in
    /// a frame, at most once).
    pub fn locals(&mut self, n: u32) -> &mut Self {
        if self.frame.started || self.frame.nlocals != 0 {
            self.errors.push(AsmError::LocalsNotFirst {
                offset: self.code.len(),
            });
            return self;
        }
        for _ in 0..n {
            self.push(0);
        }
        self.frame.nlocals = n;
        self.frame.started = false;
        self
    }

    /// `push v`.
    pub fn push(&mut self, v: i32) -> &mut Self {
        if let Some(h) = self.start(Opcode::Push, 0) {
            self.emit(Opcode::Push, &v.to_le_bytes());
            self.set_height(Some(h + 1));
        }
        self
    }

    /// `pop`.
    pub fn pop(&mut self) -> &mut Self {
        self.simple(Opcode::Pop, 1, 0)
    }

    /// `dup`.
    pub fn dup(&mut self) -> &mut Self {
        self.simple(Opcode::Dup, 1, 2)
    }

    /// `add`.
    pub fn add(&mut self) -> &mut Self {
        self.simple(Opcode::Add, 2, 1)
    }

    /// `sub`.
    pub fn sub(&mut self) -> &mut Self {
        self.simple(Opcode::Sub, 2, 1)
    }

    /// `mul`.
    pub fn mul(&mut self) -> &mut Self {
        self.simple(Opcode::Mul, 2, 1)
    }

    /// `lt`.
    pub fn lt(&mut self) -> &mut Self {
        self.simple(Opcode::Lt, 2, 1)
    }

    /// `nop`.
    pub fn nop(&mut self) -> &mut Self {
        self.simple(Opcode::Nop, 0, 0)
    }

    /// `print`: pop and print.
    pub fn print(&mut self) -> &mut Self {
        self.simple(Opcode::Print, 1, 0)
    }

    /// Push a copy of local `local`.
    pub fn load(&mut self, local: u32) -> &mut Self {
        let Some(h) = self.start(Opcode::Load, 0) else {
            return self;
        };
        let Some(j) = self.frame_index(local) else {
            return self;
        };
        let depth = h - 1 - j;
        if depth == 0 {
            self.emit(Opcode::Dup, &[]);
        } else if let Some(slot) = self.slot(depth - 1) {
            self.emit(Opcode::Load, &[slot]);
        }
        self.set_height(Some(h + 1));
        self
    }

    /// Pop the top of stack into local `local`.
    pub fn store(&mut self, local: u32) -> &mut Self {
        let Some(h) = self.start(Opcode::Store, 1) else {
            return self;
        };
        let Some(j) = self.frame_index(local) else {
            return self;
        };
        // j < base <= h - 1: the target lies below the popped temporary.
        if let Some(slot) = self.slot(h - 2 - j) {
            self.emit(Opcode::Store, &[slot]);
        }
        self.set_height(Some(h - 1));
        self
    }

    /// Jump to `label`.
    pub fn jmp(&mut self, label: Label) -> &mut Self {
        if let Some(h) = self.start(Opcode::Jmp, 0) {
            self.branch(Opcode::Jmp, label, h);
            self.set_height(None);
        }
        self
    }

    /// Pop; jump to `label` if the value was zero.
    pub fn jz(&mut self, label: Label) -> &mut Self {
        if let Some(h) = self.start(Opcode::Jz, 1) {
            self.branch(Opcode::Jz, label, h - 1);
            self.set_height(Some(h - 1));
        }
        self
    }

    /// Bind `label` here.
    pub fn bind(&mut self, label: Label) -> &mut Self {
        let offset = self.code.len();
        self.label_frame(label, offset);
        let height = self.height;
        let info = &mut self.labels[label.0 as usize];
        if info.bound.is_some() {
            self.errors.push(AsmError::LabelBoundTwice { offset });
            return self;
        }
        info.bound = Some(offset);
        let merged = match (info.height, height) {
            (Some(expected), Some(found)) if expected != found => {
                self.errors.push(AsmError::HeightMismatch {
                    offset,
                    expected,
                    found,
                });
                Some(expected)
            }
            (Some(h), _) | (None, Some(h)) => Some(h),
            // Reached by no jump so far and not by falling through: only a
            // later (backward) jump could reach it, and its height is
            // unknown here.
            (None, None) => None,
        };
        info.height = merged;
        if merged.is_none() {
            self.errors.push(AsmError::Unreachable { offset });
        }
        self.frame.started = true;
        self.set_height(merged);
        self
    }

    /// Call `func`: its arguments are the top temporaries.
    pub fn call(&mut self, func: Func) -> &mut Self {
        let nargs = self.funcs[func.0 as usize].nargs;
        if let Some(h) = self.start(Opcode::Call, nargs) {
            let at = self.emit(Opcode::Call, &[0; 4]);
            self.funcs[func.0 as usize].uses.push(at);
            self.set_height(Some(h - nargs + 1));
        }
        self
    }

    /// Return the top of stack from the current function.
    pub fn ret(&mut self) -> &mut Self {
        let offset = self.code.len();
        if self.frame.ra == 0 {
            self.errors.push(AsmError::RetOutsideFunction { offset });
            return self;
        }
        if let Some(h) = self.start(Opcode::Ret, 1) {
            // The return address is at frame index nargs, depth h-1-nargs.
            let ra_slot = self.slot(h - 2 - self.frame.nargs);
            let drop = (h - 1) * 8;
            let drop = u16::try_from(drop).ok();
            if drop.is_none() {
                self.errors.push(AsmError::TooDeep { offset, depth: h });
            }
            if let (Some(s), Some(d)) = (ra_slot, drop) {
                let d = d.to_le_bytes();
                self.emit(Opcode::Ret, &[s, d[0], d[1]]);
            }
            self.set_height(None);
        }
        self
    }

    /// Stop the VM; the top of stack is its result.
    pub fn halt(&mut self) -> &mut Self {
        if let Some(h) = self.start(Opcode::Halt, 0) {
            if h == 0 {
                self.errors.push(AsmError::StackUnderflow {
                    offset: self.code.len(),
                    op: Opcode::Halt,
                    needs: 1,
                    has: 0,
                });
            }
            self.emit(Opcode::Halt, &[]);
            self.set_height(None);
        }
        self
    }

    /// Check everything left and return the program, or every error found.
    pub fn finish(mut self) -> Result<Program, AsmErrors> {
        if self.height.is_some() {
            self.errors.push(AsmError::FallsThrough {
                offset: self.code.len(),
            });
        }
        if i32::try_from(self.code.len()).is_err() {
            self.errors.push(AsmError::TooLarge);
        }
        for (n, label) in self.labels.iter().enumerate() {
            match label.bound {
                Some(target) => {
                    for &at in &label.uses {
                        patch(&mut self.code, at, target);
                    }
                }
                None if !label.uses.is_empty() => {
                    self.errors.push(AsmError::LabelUnbound { label: n as u32 })
                }
                None => {}
            }
        }
        for (n, func) in self.funcs.iter().enumerate() {
            match func.entry {
                Some(target) => {
                    for &at in &func.uses {
                        patch(&mut self.code, at, target);
                    }
                }
                None if !func.uses.is_empty() => self
                    .errors
                    .push(AsmError::FunctionUndefined { func: n as u32 }),
                None => {}
            }
        }
        if self.errors.is_empty() {
            Ok(Program {
                code: self.code,
                main_max: self.main_max,
                frame_max: self.frame_max,
            })
        } else {
            Err(AsmErrors(self.errors))
        }
    }

    // ------------------------------------------------------------ helpers

    /// The height before `op`, which pops `pops` temporaries; `None` (with
    /// an error) if it is unreachable or the frame has too few.
    fn start(&mut self, op: Opcode, pops: u32) -> Option<u32> {
        let offset = self.code.len();
        self.frame.started = true;
        let Some(h) = self.height else {
            self.errors.push(AsmError::Unreachable { offset });
            return None;
        };
        let has = h - self.frame.base().min(h);
        if has < pops {
            self.errors.push(AsmError::StackUnderflow {
                offset,
                op,
                needs: pops,
                has,
            });
            return None;
        }
        Some(h)
    }

    fn simple(&mut self, op: Opcode, pops: u32, pushes: u32) -> &mut Self {
        if let Some(h) = self.start(op, pops) {
            self.emit(op, &[]);
            self.set_height(Some(h - pops + pushes));
        }
        self
    }

    /// Emit `op` and its operands; returns the operands' offset.
    fn emit(&mut self, op: Opcode, operands: &[u8]) -> usize {
        debug_assert_eq!(operands.len(), op.operand_len());
        self.code.push(op as u8);
        let at = self.code.len();
        self.code.extend_from_slice(operands);
        at
    }

    fn set_height(&mut self, h: Option<u32>) {
        self.height = h;
        if let Some(h) = h {
            if self.frame.ra == 0 {
                self.main_max = self.main_max.max(h);
            } else {
                self.frame_max = self.frame_max.max(h);
            }
        }
    }

    fn frame_index(&mut self, local: u32) -> Option<u32> {
        let f = self.frame;
        if local >= f.nargs + f.nlocals {
            self.errors.push(AsmError::NoSuchLocal {
                offset: self.code.len(),
                local,
                count: f.nargs + f.nlocals,
            });
            return None;
        }
        Some(if local < f.nargs { local } else { local + f.ra })
    }

    fn slot(&mut self, slot: u32) -> Option<u8> {
        let s = u8::try_from(slot).ok();
        if s.is_none() {
            self.errors.push(AsmError::TooDeep {
                offset: self.code.len(),
                depth: slot + 1,
            });
        }
        s
    }

    fn label_frame(&mut self, label: Label, offset: usize) -> bool {
        let id = self.frame.id;
        let info = &mut self.labels[label.0 as usize];
        match info.frame {
            Some(f) if f != id => {
                self.errors.push(AsmError::LabelInOtherFrame {
                    offset,
                    label: label.0,
                });
                false
            }
            _ => {
                info.frame = Some(id);
                true
            }
        }
    }

    fn branch(&mut self, op: Opcode, label: Label, height: u32) {
        let offset = self.code.len();
        let ok = self.label_frame(label, offset);
        let at = self.emit(op, &[0; 4]);
        if !ok {
            return;
        }
        let info = &mut self.labels[label.0 as usize];
        info.uses.push(at);
        match info.height {
            Some(expected) if expected != height => self.errors.push(AsmError::HeightMismatch {
                offset,
                expected,
                found: height,
            }),
            _ => info.height = Some(height),
        }
    }
}

/// Write the branch offset from the operand at `at` to `target`.
fn patch(code: &mut [u8], at: usize, target: usize) {
    let rel = (target as i64 - at as i64) as i32;
    code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(a: Assembler) -> Vec<AsmError> {
        a.finish().expect_err("should be rejected").0
    }

    #[test]
    fn locals_become_depth_slots() {
        let mut a = Assembler::new();
        a.locals(2).push(5).store(0).load(0).load(1).add().halt();
        let p = a.finish().unwrap();
        // Local 0 is at depth 2 under the pushed 5 (slot 1); then local 0
        // and, after that load, local 1 are both at depth 1 (slot 0).
        let ops: Vec<_> = crate::bytecode::decode_all(p.code())
            .unwrap()
            .iter()
            .map(|i| (i.op, i.a))
            .collect();
        assert_eq!(
            ops,
            vec![
                (Opcode::Push, 0),
                (Opcode::Push, 0),
                (Opcode::Push, 5),
                (Opcode::Store, 1),
                (Opcode::Load, 0),
                (Opcode::Load, 0),
                (Opcode::Add, 0),
                (Opcode::Halt, 0),
            ]
        );
        assert_eq!(p.main_max(), 4);
    }

    #[test]
    fn ret_encodes_return_address_slot_and_frame_size() {
        let mut a = Assembler::new();
        let f = a.function(2);
        a.push(1).push(2).call(f).halt();
        a.begin(f).locals(1).load(0).ret();
        let p = a.finish().unwrap();
        let ret = crate::bytecode::decode_all(p.code())
            .unwrap()
            .into_iter()
            .find(|i| i.op == Opcode::Ret)
            .unwrap();
        // Frame: a0 a1 ra l2 result: ra at depth 2 (slot 1); drop 4 values.
        assert_eq!((ret.a, ret.b), (1, 32));
        assert_eq!(p.frame_max(), 5);
    }

    #[test]
    fn rejects_popping_locals() {
        let mut a = Assembler::new();
        a.locals(1).add().halt();
        assert!(matches!(
            errors(a)[0],
            AsmError::StackUnderflow {
                op: Opcode::Add,
                needs: 2,
                has: 0,
                ..
            }
        ));
    }

    #[test]
    fn rejects_height_mismatch_at_label() {
        let mut a = Assembler::new();
        let l = a.label();
        a.push(0).jz(l).push(1).bind(l).push(0).halt();
        assert!(matches!(
            errors(a)[0],
            AsmError::HeightMismatch {
                expected: 0,
                found: 1,
                ..
            }
        ));
    }

    #[test]
    fn rejects_fall_through_unbound_labels_and_undefined_functions() {
        let mut a = Assembler::new();
        let l = a.label();
        let f = a.function(0);
        a.push(0).call(f).jz(l).push(1);
        let e = errors(a);
        assert!(e.contains(&AsmError::FallsThrough { offset: 20 }));
        assert!(e.contains(&AsmError::LabelUnbound { label: 0 }));
        assert!(e.contains(&AsmError::FunctionUndefined { func: 0 }));
    }

    #[test]
    fn rejects_unreachable_code_ret_in_main_and_bad_locals() {
        let mut a = Assembler::new();
        a.push(1).halt().push(2);
        assert!(matches!(errors(a)[0], AsmError::Unreachable { offset: 6 }));

        let mut a = Assembler::new();
        a.push(1).ret();
        assert!(matches!(errors(a)[0], AsmError::RetOutsideFunction { .. }));

        let mut a = Assembler::new();
        a.locals(1).load(1).halt();
        assert!(matches!(
            errors(a)[0],
            AsmError::NoSuchLocal {
                local: 1,
                count: 1,
                ..
            }
        ));

        let mut a = Assembler::new();
        a.push(1).locals(1).halt();
        assert!(matches!(errors(a)[0], AsmError::LocalsNotFirst { .. }));
    }

    #[test]
    fn rejects_labels_shared_between_frames_and_double_definitions() {
        let mut a = Assembler::new();
        let l = a.label();
        let f = a.function(0);
        a.bind(l).push(0).jz(l).push(0).halt();
        a.begin(f).push(0).jz(l).push(1).ret();
        a.begin(f).push(1).ret();
        let e = errors(a);
        assert!(
            e.iter()
                .any(|e| matches!(e, AsmError::LabelInOtherFrame { .. }))
        );
        assert!(
            e.iter()
                .any(|e| matches!(e, AsmError::FunctionDefinedTwice { .. }))
        );
    }

    #[test]
    fn rejects_slots_deeper_than_a_byte() {
        let mut a = Assembler::new();
        a.locals(300).load(0).halt();
        assert!(matches!(errors(a)[0], AsmError::TooDeep { .. }));
    }
}

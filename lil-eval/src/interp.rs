//! One activation of a stub: its frame and what each instruction does.
//!
//! An [`Activation`] holds the five areas of LIL's frame (inputs, locals,
//! outputs, standard places, `r`) as typed [`Value`]s, masked to their
//! width, and the stub's place on the guest stack. [`Activation::step`]
//! executes one instruction exactly as docs/LANGUAGE.md says; calls and
//! returns are not performed here but handed to the machine's run loop as a
//! [`Flow`], so nested stubs never deepen the Rust stack.
//!
//! Invariants a reader must not break:
//! - A stored value is always normalized (bits above its width are zero);
//!   every operation reads operands at the width the checker assigned
//!   (`CheckedStub::op_type`), never at a width it guesses.
//! - The checker guarantees every variable read holds a value; a read that
//!   finds none is [`EvalError::Undefined`], never a made-up value.

use std::rc::Rc;

use lil_check::{CheckedStub, M2nState};
use lil_codegen::m2n::offsets as m2n;
use lil_codegen::{HostEnv, ThreadPointer};
use lil_machine::Value;
use lil_syntax::{
    Address, CallKind, Extension, InstKind, Operand, OperandKind, PrintMessage, Type, Var,
};

use crate::error::EvalError;
use crate::machine::EvalMachine;
use crate::ops;

/// Bytes of the frame record (saved frame pointer, return address) every
/// activation writes just below its caller's stack pointer, as both
/// backends' frames do.
pub(crate) const FRAME_RECORD: u64 = 16;

/// Bytes each LIL instruction occupies in a stub's address range: the call
/// at instruction `i` returns to `stub + INSTRUCTION_BYTES * (i + 1)`.
pub(crate) const INSTRUCTION_BYTES: u64 = 4;

/// A stub installed in the machine, with what the interpreter precomputes.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) checked: CheckedStub,
    pub(crate) env: HostEnv,
    /// Its (fake) code address.
    pub(crate) addr: u64,
    /// For each label id, the index of its declaration in the body.
    pub(crate) labels: Vec<Option<usize>>,
    /// For each instruction, where its `print` text lies (0 for none).
    pub(crate) texts: Vec<u64>,
    /// Bytes of the `alloc` area: the most any path has allocated.
    pub(crate) alloc_area: u64,
}

/// Where a callee returns to, and the stack it may use below `sp`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    /// The caller's stack pointer at the call (16-byte aligned); also its
    /// stack pointer once the callee has returned.
    pub(crate) sp: u64,
    /// Where the callee returns to.
    pub(crate) return_address: u64,
    /// The caller's frame pointer (its frame record), 0 for the host.
    pub(crate) caller_fp: u64,
}

/// A call to make: target, arguments, standard places, and return link.
#[derive(Debug)]
pub(crate) struct CallRequest {
    pub(crate) target: u64,
    pub(crate) args: Vec<Value>,
    pub(crate) std: Vec<Option<Value>>,
    pub(crate) link: Link,
}

/// What an instruction asks the run loop to do next.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Continue with the activation's next instruction (already set).
    Next,
    /// Call, then [`Activation::resume`] this activation with the result.
    Call(CallRequest),
    /// Replace this activation by a call with the same return link.
    Tail(CallRequest),
    /// Return this value to the caller.
    Return(Option<Value>),
}

/// The output area between `out`/`in2out` and the call.
#[derive(Debug)]
struct Outputs {
    ret: Option<Type>,
    values: Vec<Option<Value>>,
}

/// A call this activation waits for.
#[derive(Clone, Copy, Debug)]
struct Awaiting {
    ret: Option<Type>,
    returns: bool,
    target: u64,
}

/// The activation's part of the guest stack, from its caller's stack
/// pointer down: frame record, M2N frame (if the stub pushes one), `alloc`
/// area, then its own callees.
#[derive(Clone, Copy, Debug)]
struct Frame {
    link: Link,
    /// The frame record: `[record]` the caller's frame pointer,
    /// `[record + 8]` the return address.
    record: u64,
    /// Where `push_m2n` puts the M2N frame.
    m2n: u64,
    /// The lowest byte of the `alloc` area.
    alloc_base: u64,
    /// The stack pointer at this activation's calls.
    call_sp: u64,
}

/// One running stub.
#[derive(Debug)]
pub(crate) struct Activation {
    stub: Rc<Loaded>,
    pc: usize,
    inputs: Vec<Value>,
    locals: Vec<Option<Value>>,
    std: Vec<Option<Value>>,
    out: Option<Outputs>,
    ret: Option<Value>,
    frame: Frame,
    awaiting: Option<Awaiting>,
}

/// Give each argument the type of the parameter it lands in: the k-th
/// general-purpose parameter receives the k-th general-purpose argument, the
/// k-th floating-point parameter the k-th floating-point argument, as
/// registers and stack slots pair them up when caller and callee agree on
/// the signature. A missing argument is a signature mismatch.
pub(crate) fn rebind(args: &[Value], params: &[Type]) -> Result<Vec<Value>, EvalError> {
    let mut general = args.iter().filter(|v| v.ty.is_general());
    let mut float = args.iter().filter(|v| v.ty.is_float());
    params
        .iter()
        .enumerate()
        .map(|(k, &ty)| {
            let class = if ty.is_float() {
                float.next()
            } else {
                general.next()
            };
            let arg = class.ok_or_else(|| {
                EvalError::Signature(format!(
                    "parameter {k} ({ty}) receives no argument: passed {}",
                    describe(args)
                ))
            })?;
            Ok(Value { ty, bits: arg.bits }.normalized())
        })
        .collect()
}

fn describe(args: &[Value]) -> String {
    let types: Vec<&str> = args.iter().map(|v| v.ty.keyword()).collect();
    format!("({})", types.join(","))
}

/// The result `value` of a callee, as the caller expects it (`ret`).
pub(crate) fn convert_result(
    value: Option<Value>,
    ret: Option<Type>,
) -> Result<Option<Value>, EvalError> {
    match (ret, value) {
        (None, _) => Ok(None),
        (Some(t), Some(v)) if t.is_float() == v.ty.is_float() => Ok(Some(
            Value {
                ty: t,
                bits: v.bits,
            }
            .normalized(),
        )),
        (Some(t), v) => Err(EvalError::Signature(format!(
            "the caller expects a {t} result, the callee returned {}",
            v.map_or("nothing".to_string(), |v| v.ty.to_string())
        ))),
    }
}

impl Activation {
    /// Enter `stub` for `call`: bind the arguments, lay out the frame on
    /// the guest stack and write its frame record.
    pub(crate) fn enter(
        m: &mut EvalMachine,
        stub: Rc<Loaded>,
        call: CallRequest,
    ) -> Result<Activation, EvalError> {
        let entry = &stub.checked.stub().entry;
        let inputs = match entry.signature.typed() {
            Some(sig) => rebind(&call.args, &sig.params)?,
            // An `arbitrary` stub cannot read its inputs; it passes on what it got.
            None => call.args,
        };
        let std = (0..entry.std_places.min(lil_check::MAX_STD_PLACES) as usize)
            .map(|k| call.std.get(k).copied().flatten())
            .collect();
        let link = call.link;
        let record = link
            .sp
            .checked_sub(FRAME_RECORD)
            .ok_or(EvalError::StackOverflow)?;
        let m2n_bytes = if stub.checked.summary().pushes_m2n {
            u64::from(m2n::SIZE)
        } else {
            0
        };
        let m2n = record
            .checked_sub(m2n_bytes)
            .ok_or(EvalError::StackOverflow)?;
        let alloc_base = m2n
            .checked_sub(stub.alloc_area.next_multiple_of(16))
            .ok_or(EvalError::StackOverflow)?;
        if alloc_base < m.stack_base() {
            return Err(EvalError::StackOverflow);
        }
        m.memory_mut()
            .write_uint(record + 8, 8, link.return_address)?;
        m.memory_mut().write_uint(record, 8, link.caller_fp)?;
        Ok(Activation {
            stub,
            pc: 0,
            inputs,
            locals: Vec::new(),
            std,
            out: None,
            ret: None,
            frame: Frame {
                link,
                record,
                m2n,
                alloc_base,
                call_sp: alloc_base,
            },
            awaiting: None,
        })
    }

    /// The stub's address.
    pub(crate) fn stub_addr(&self) -> u64 {
        self.stub.addr
    }

    /// The index of the instruction about to run (or running a call).
    pub(crate) fn pc(&self) -> usize {
        self.pc
    }

    /// The stub.
    pub(crate) fn checked(&self) -> &CheckedStub {
        &self.stub.checked
    }

    /// Continue after the call this activation made, with its result.
    pub(crate) fn resume(&mut self, result: Option<Value>) -> Result<(), EvalError> {
        let awaiting = self
            .awaiting
            .take()
            .ok_or(EvalError::Internal("resumed without a pending call"))?;
        if !awaiting.returns {
            return Err(EvalError::NoReturnReturned(awaiting.target));
        }
        self.ret = convert_result(result, awaiting.ret)?;
        self.pc += 1;
        Ok(())
    }

    // ---------------------------------------------------------- variables

    fn read(&self, var: Var) -> Result<Value, EvalError> {
        let at = |k: u32| k as usize;
        let value = match var {
            Var::Input(k) => self.inputs.get(at(k)).copied(),
            Var::Local(k) => self.locals.get(at(k)).copied().flatten(),
            Var::Output(k) => self
                .out
                .as_ref()
                .and_then(|o| o.values.get(at(k)).copied().flatten()),
            Var::StdPlace(k) => self.std.get(at(k)).copied().flatten(),
            Var::Ret => self.ret,
        };
        value.ok_or(EvalError::Undefined(var))
    }

    fn write(&mut self, var: Var, value: Value) -> Result<(), EvalError> {
        let value = value.normalized();
        let slot = match var {
            Var::Input(k) => {
                let input = self
                    .inputs
                    .get_mut(k as usize)
                    .ok_or(EvalError::Undefined(var))?;
                *input = value;
                return Ok(());
            }
            Var::Local(k) => self.locals.get_mut(k as usize),
            Var::Output(k) => self.out.as_mut().and_then(|o| o.values.get_mut(k as usize)),
            Var::StdPlace(k) => self.std.get_mut(k as usize),
            Var::Ret => Some(&mut self.ret),
        };
        *slot.ok_or(EvalError::Internal(
            "write to a variable that does not exist",
        ))? = Some(value);
        Ok(())
    }

    /// The value of an operand; an immediate without a cast has type `ty`
    /// (the type its position requires, as the checker decided).
    fn operand(&self, o: &Operand, ty: Type) -> Result<Value, EvalError> {
        match o.kind {
            OperandKind::Var(v) => {
                let value = self.read(v)?;
                // A cast relabels the bits; the checker allows it only
                // between types of one width and class.
                Ok(match o.cast {
                    Some(c) => Value {
                        ty: c,
                        bits: value.bits,
                    }
                    .normalized(),
                    None => value,
                })
            }
            OperandKind::Imm(v) => {
                let ty = o.cast.unwrap_or(ty);
                Ok(Value {
                    ty,
                    bits: ops::immediate(v, ty),
                })
            }
        }
    }

    /// The type the checker gave the current instruction.
    fn op_type(&self) -> Result<Type, EvalError> {
        self.stub
            .checked
            .op_type(self.pc)
            .ok_or(EvalError::Internal("instruction without a type"))
    }

    /// `base + index*scale + offset`, wrapping.
    fn address(&self, a: &Address) -> Result<u64, EvalError> {
        let mut at = ops::immediate(a.offset, Type::G8);
        if let Some(base) = a.base {
            at = at.wrapping_add(self.read(base.var)?.bits);
        }
        if let Some((index, scale)) = a.index {
            at = at.wrapping_add(self.read(index.var)?.bits.wrapping_mul(u64::from(scale)));
        }
        Ok(at)
    }

    fn jump(&mut self, label: lil_syntax::LabelId) -> Result<Flow, EvalError> {
        self.pc = self
            .stub
            .labels
            .get(label.index())
            .copied()
            .flatten()
            .ok_or(EvalError::Internal("jump to an undeclared label"))?;
        Ok(Flow::Next)
    }

    fn env(&self) -> &HostEnv {
        &self.stub.env
    }

    /// The link a call from the current instruction gives its callee.
    fn call_link(&self) -> Link {
        Link {
            sp: self.frame.call_sp,
            return_address: self.stub.addr + INSTRUCTION_BYTES * (self.pc as u64 + 1),
            caller_fp: self.frame.record,
        }
    }

    /// `ts`: the machine's thread pointer, or the host's function's result.
    fn thread_pointer(&self, m: &mut EvalMachine) -> Result<u64, EvalError> {
        match self.env().thread_pointer {
            ThreadPointer::Call { function } => {
                let v = m.helper(function, Vec::new(), Some(Type::Pint), self.call_link())?;
                Ok(v.map_or(0, |v| v.bits))
            }
            ThreadPointer::TlsSlot { .. } | ThreadPointer::Register(_) => Ok(m.thread()),
        }
    }

    // ------------------------------------------------------- instructions

    /// Execute the instruction at `pc`.
    pub(crate) fn step(&mut self, m: &mut EvalMachine) -> Result<Flow, EvalError> {
        let stub = Rc::clone(&self.stub);
        let inst = stub
            .checked
            .stub()
            .body
            .get(self.pc)
            .ok_or(EvalError::Internal("control ran off the end of the stub"))?;
        let before = self.pc;
        let flow = self.execute(m, &inst.kind)?;
        // A taken jump has moved `pc` to a label (never the jumping
        // instruction itself); everything else falls through. Calls stay
        // put until `resume`.
        if matches!(flow, Flow::Next) && self.pc == before {
            self.pc += 1;
        }
        Ok(flow)
    }

    fn execute(&mut self, m: &mut EvalMachine, kind: &InstKind) -> Result<Flow, EvalError> {
        match kind {
            InstKind::Label(_) => {}
            InstKind::Locals(n) => self.locals = vec![None; *n as usize],
            InstKind::StdPlaces(n) => {
                self.std = vec![None; (*n).min(lil_check::MAX_STD_PLACES) as usize];
            }
            InstKind::Alloc { dst, .. } => {
                let before = self
                    .stub
                    .checked
                    .context(self.pc)
                    .ok_or(EvalError::Internal("unreachable instruction ran"))?
                    .alloc_bytes();
                let at = self.frame.alloc_base + u64::from(before);
                self.write(dst.var, Value::pint(at))?;
            }
            InstKind::Move { dst, src } => {
                let v = self.operand(src, self.op_type()?)?;
                self.write(dst.var, v)?;
            }
            InstKind::Unary { dst, op, src } => {
                // The checker types an untyped immediate operand of a unary
                // operation as a `pint` (its position requires no type).
                let v = self.operand(src, Type::Pint)?;
                let (ty, bits) = ops::unary(*op, v.ty, v.bits);
                self.write(dst.var, Value { ty, bits })?;
            }
            InstKind::Binary { dst, op, lhs, rhs } => {
                let ty = self.op_type()?;
                let a = self.operand(lhs, ty)?;
                // A shift count may have any general type; only its low bits
                // matter, so an untyped immediate count is read as a pint.
                let b = self.operand(rhs, if op.is_shift() { Type::Pint } else { ty })?;
                let bits = ops::binary(*op, ty, a.bits, b.bits);
                self.write(dst.var, Value { ty, bits })?;
            }
            InstKind::Ts { dst } => {
                let thread = self.thread_pointer(m)?;
                self.write(dst.var, Value::pint(thread))?;
            }
            InstKind::Handles(o) => {
                let v = self.operand(o, Type::Pint)?;
                let at = self.frame.m2n + m2n::LOCAL_HANDLES as u64;
                m.memory_mut().write_uint(at, 8, v.bits)?;
            }
            InstKind::Ld { dst, addr, ext } => {
                let at = self.address(addr)?;
                let ty = addr.ty;
                let raw = m.memory_mut().read_uint(at, ty.size())?;
                let v = match ext {
                    Some(e) => Value::pint(ops::extend(ty.size(), *e == Extension::Sign, raw)),
                    None => Value { ty, bits: raw },
                };
                self.write(dst.var, v)?;
            }
            InstKind::St { addr, src } => {
                let at = self.address(addr)?;
                let v = self.operand(src, addr.ty)?;
                m.memory_mut().write_uint(at, addr.ty.size(), v.bits)?;
            }
            InstKind::Inc { addr } => {
                let at = self.address(addr)?;
                let size = addr.ty.size();
                let old = m.memory_mut().read_uint(at, size)?;
                let new = old.wrapping_add(1) & ops::mask(addr.ty);
                m.memory_mut().write_uint(at, size, new)?;
            }
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            } => {
                let at = self.address(addr)?;
                let ty = addr.ty;
                let cmp = self.operand(compare, ty)?;
                let src = self.operand(source, ty)?;
                let current = m.memory_mut().read_uint(at, ty.size())?;
                if current != cmp.bits & ops::mask(ty) {
                    return self.jump(on_fail.id);
                }
                m.memory_mut().write_uint(at, ty.size(), src.bits)?;
            }
            InstKind::Jump(l) => return self.jump(l.id),
            InstKind::JumpIf { cond, target } => {
                let ty = self.op_type()?;
                let a = self.operand(&cond.lhs, ty)?;
                let b = self.operand(&cond.rhs, ty)?;
                if ops::compare(cond.predicate, ty, a.bits, b.bits) {
                    return self.jump(target.id);
                }
            }
            InstKind::Out(sig) => {
                self.out = Some(Outputs {
                    ret: sig.ret,
                    values: vec![None; sig.params.len()],
                });
            }
            InstKind::In2Out { ret, .. } => {
                // The output area has the stub's own parameter types, and
                // receives the inputs' current values.
                self.out = Some(Outputs {
                    ret: *ret,
                    values: self.inputs.iter().copied().map(Some).collect(),
                });
            }
            InstKind::Call { kind, target } => {
                let target = self.operand(target, Type::Pint)?.bits;
                return self.call(*kind, target);
            }
            InstKind::Ret => {
                let value = match self.stub.checked.op_type(self.pc) {
                    Some(ty) => Some(
                        Value {
                            ty,
                            bits: self.read(Var::Ret)?.bits,
                        }
                        .normalized(),
                    ),
                    None => None,
                };
                return Ok(Flow::Return(value));
            }
            InstKind::PushM2n {
                method, frame_type, ..
            } => self.push_m2n(m, method.as_ref(), frame_type.as_ref())?,
            // The interpreter has no callee-saved floating-point registers:
            // `saved_fp` keeps the zeros `push_m2n` wrote.
            InstKind::M2nSaveAll => {}
            InstKind::PopM2n => self.pop_m2n(m)?,
            InstKind::Print { message, operand } => self.print(m, message, operand.as_ref())?,
        }
        Ok(Flow::Next)
    }

    fn call(&mut self, kind: CallKind, target: u64) -> Result<Flow, EvalError> {
        match kind {
            CallKind::Call | CallKind::NoReturn => {
                let out = self
                    .out
                    .take()
                    .ok_or(EvalError::Internal("call without an output area"))?;
                let args = out
                    .values
                    .iter()
                    .enumerate()
                    .map(|(k, v)| v.ok_or(EvalError::Undefined(Var::Output(k as u32))))
                    .collect::<Result<Vec<Value>, EvalError>>()?;
                // The callee sees the standard places live at the call (they
                // are registers); here they are destroyed.
                let std = std::mem::take(&mut self.std);
                self.awaiting = Some(Awaiting {
                    ret: out.ret,
                    returns: kind == CallKind::Call,
                    target,
                });
                Ok(Flow::Call(CallRequest {
                    target,
                    args,
                    std,
                    link: self.call_link(),
                }))
            }
            CallKind::Tail => Ok(Flow::Tail(CallRequest {
                target,
                args: self.inputs.clone(),
                std: self.std.clone(),
                link: self.frame.link,
            })),
        }
    }

    fn push_m2n(
        &mut self,
        m: &mut EvalMachine,
        method: Option<&Operand>,
        frame_type: Option<&Operand>,
    ) -> Result<(), EvalError> {
        let f = self.frame.m2n;
        let word = |o: Option<&Operand>| -> Result<u64, EvalError> {
            o.map_or(Ok(0), |o| self.operand(o, Type::Pint).map(|v| v.bits))
        };
        let (method, frame_type) = (word(method)?, word(frame_type)?);
        let mut frame = [0u64; m2n::SIZE as usize / 8];
        let mut set = |offset: i32, v: u64| frame[offset as usize / 8] = v;
        set(m2n::METHOD, method);
        set(m2n::FRAME_TYPE, frame_type);
        set(m2n::LOCAL_HANDLES, 0);
        set(m2n::RETURN_ADDRESS, self.frame.link.return_address);
        set(m2n::CALLER_SP, self.frame.link.sp);
        set(m2n::CALLER_FP, self.frame.link.caller_fp);
        // saved_gp / saved_fp: the interpreter has no registers; zeros.
        let thread = self.thread_pointer(m)?;
        let head = thread.wrapping_add(self.env().m2n_list_offset as i64 as u64);
        let memory = m.memory_mut();
        let prev = memory.read_uint(head, 8)?;
        frame[m2n::PREV as usize / 8] = prev;
        frame[m2n::LINK as usize / 8] = head;
        let bytes: Vec<u8> = frame.iter().flat_map(|w| w.to_le_bytes()).collect();
        memory.write(f, &bytes)?;
        memory.write_uint(head, 8, f)?;
        // LANGUAGE.md: "Afterwards r is undefined."
        self.ret = None;
        Ok(())
    }

    fn pop_m2n(&mut self, m: &mut EvalMachine) -> Result<(), EvalError> {
        let f = self.frame.m2n;
        let handles = self
            .stub
            .checked
            .context(self.pc)
            .is_some_and(|c| c.m2n() == M2nState::PushedWithHandles);
        let hooks = self.env().m2n_hooks;
        let calls = [
            hooks.free_handles.filter(|_| handles),
            hooks.pending_exception,
        ];
        for function in calls.into_iter().flatten() {
            m.helper(function, vec![Value::pint(f)], None, self.call_link())?;
        }
        let memory = m.memory_mut();
        let link = memory.read_uint(f + m2n::LINK as u64, 8)?;
        let prev = memory.read_uint(f + m2n::PREV as u64, 8)?;
        memory.write_uint(link, 8, prev)?;
        self.std.clear();
        self.out = None;
        Ok(())
    }

    fn print(
        &mut self,
        m: &mut EvalMachine,
        message: &PrintMessage,
        operand: Option<&Operand>,
    ) -> Result<(), EvalError> {
        let Some(function) = self.env().print else {
            return Ok(());
        };
        let (text, len) = match message {
            PrintMessage::Text(t) => (self.stub.texts.get(self.pc).copied().unwrap_or(0), t.len()),
            PrintMessage::Address(a) => (ops::immediate(*a, Type::Pint), 0),
        };
        let value = match operand {
            Some(o) => self.operand(o, self.op_type()?)?.bits,
            None => 0,
        };
        let args = vec![
            Value::pint(text),
            Value::pint(len as u64),
            Value::int(Type::G8, value),
        ];
        m.helper(function, args, None, self.call_link())?;
        Ok(())
    }
}

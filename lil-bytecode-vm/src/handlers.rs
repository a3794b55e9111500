//! The LIL stubs of the VM: one `handler` stub per opcode, the entry stub
//! that starts the interpreter and the exit stub that ends it.
//!
//! VM state lives in the four standard places, which are pinned registers
//! on both targets:
//!
//! | place | holds |
//! |---|---|
//! | `sp0` | the dispatch table (256 handler addresses), with the VM context just below it |
//! | `sp1` | the instruction pointer: the byte after the current opcode |
//! | `sp2` | the VM stack pointer: the second value from the top (the stack grows down) |
//! | `sp3` | the cached top of stack |
//!
//! Every handler ends in the same four-instruction *dispatch*, appended to
//! its body as a fragment (DRLVM's parse-onto-end): load the next opcode,
//! advance `sp1` past it (and past the current operands, in the same `add`),
//! load its handler from the table, `tailcall` it.
//!
//! The *VM context* is four words below the table, reached from `sp0`: the
//! stack limit `call` checks, the run's status, the exit stub's address and
//! the print helper's. Keeping those addresses in memory rather than baking
//! them into the code makes every stub independent of where it and the
//! others are installed, so all of them are generated once per target,
//! before any address is known, and installed as one block.
//!
//! Invariant: a handler that makes no call uses no stack; only `print`
//! calls (its native helper) and so has a frame.

use std::ops::Range;

use lil_check::CheckedStub;
use lil_codegen::{Backend, CompiledStub, HostEnv, Target};
use lil_syntax::{Arg, StubBuilder};

use crate::VmError;
use crate::bytecode::Opcode;

/// Byte offsets, from the dispatch table (`sp0`), of the VM context words.
pub mod context {
    /// The lowest address `sp2` may have after a `call` pushed its return
    /// address ([`Program::reserve`](crate::Program::reserve) slots above
    /// the bottom of the stack).
    pub const STACK_LIMIT: i32 = -8;
    /// Why the run stopped: one of the `STATUS_*` values.
    pub const STATUS: i32 = -16;
    /// The exit stub's address.
    pub const EXIT: i32 = -24;
    /// The print helper's address: `extern "C" fn(value: i64)`.
    pub const PRINT: i32 = -32;
    /// Bytes of context below the table.
    pub const SIZE: usize = 32;

    /// `halt` was executed.
    pub const STATUS_HALTED: u64 = 0;
    /// A `call` hit the stack limit.
    pub const STATUS_STACK_OVERFLOW: u64 = 1;
    /// A byte that is no opcode was dispatched.
    pub const STATUS_ILLEGAL_OPCODE: u64 = 2;
}

/// The dispatch fragment: `%0i` is the offset of the next opcode from `sp1`
/// (the current operands' length), `%1i` that plus one.
const DISPATCH: &str = "
ld l3, [sp1+%0i:g1], zx;
sp1 = sp1 + %1i;
ld l3, [sp0+l3*8:pint];
tailcall l3;";

/// LIL instructions in the dispatch fragment every handler ends with.
pub const DISPATCH_LEN: usize = 4;

/// Every handler starts like this; `l3` is the dispatch's.
const HANDLER: &str = "entry 4:handler::void;\nlocals 4;";

/// What a generated stub is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StubKind {
    /// `entry 0:platform:pint,pint,pint,pint:g8`: called from Rust with the
    /// table, the code, the stack top and an initial top of stack; sets the
    /// standard places and calls the first handler.
    Entry,
    /// `entry 4:platform::g8`: returns `sp3` to the entry stub's call.
    Exit,
    /// The handler in every table slot that is no opcode.
    Illegal,
    /// The handler of an opcode.
    Handler(Opcode),
}

/// One stub: its LIL, the checked stub and its code for one target.
#[derive(Clone, Debug)]
pub struct GeneratedStub {
    /// What it is.
    pub kind: StubKind,
    /// Its LIL text (the fragments joined, as the builder saw them).
    pub source: String,
    /// The checked stub.
    pub checked: CheckedStub,
    /// Its machine code.
    pub code: CompiledStub,
    /// The body indices of the LIL instructions of each dispatch sequence.
    pub dispatch_tails: Vec<Range<usize>>,
}

impl GeneratedStub {
    /// A name for listings: the opcode's mnemonic, `entry`, `exit`, `illegal`.
    pub fn name(&self) -> &'static str {
        match self.kind {
            StubKind::Entry => "entry",
            StubKind::Exit => "exit",
            StubKind::Illegal => "illegal",
            StubKind::Handler(op) => op.name(),
        }
    }

    /// The code bytes each dispatch sequence produced (from the source map),
    /// one list of byte ranges per sequence.
    pub fn dispatch_code(&self) -> Vec<Vec<Range<usize>>> {
        self.dispatch_tails
            .iter()
            .map(|tail| {
                self.code
                    .source_map
                    .iter()
                    .filter(|e| tail.contains(&(e.instruction as usize)))
                    .map(|e| e.code.start as usize..e.code.end as usize)
                    .collect()
            })
            .collect()
    }
}

/// Every stub of the VM for one target, generated and compiled.
#[derive(Clone, Debug)]
pub struct Stubs {
    target: Target,
    stubs: Vec<GeneratedStub>,
}

impl Stubs {
    /// Generate, check and compile every stub for `target`. Needs no machine
    /// of that kind: the stubs embed no address.
    pub fn generate(target: Target) -> Result<Stubs, VmError> {
        let env = HostEnv::default();
        let backend: &dyn Backend = match target {
            Target::X64 => &lil_codegen_x64::X64Backend,
            Target::Arm64 => &lil_codegen_arm64::Arm64Backend,
        };
        let mut stubs = Vec::new();
        let kinds = [StubKind::Entry, StubKind::Exit, StubKind::Illegal]
            .into_iter()
            .chain(Opcode::ALL.into_iter().map(StubKind::Handler));
        for kind in kinds {
            let (builder, dispatch_tails) = source(kind)?;
            let source = builder.source().to_string();
            let checked = lil_check::check_owned(builder.finish()).map_err(|d| VmError::Check {
                stub: kind,
                rendered: d.render(&format!("{kind:?}"), &source),
            })?;
            let code = backend
                .compile(&checked, &env)
                .map_err(|error| VmError::Codegen {
                    stub: kind,
                    target,
                    error,
                })?;
            stubs.push(GeneratedStub {
                kind,
                source,
                checked,
                code,
                dispatch_tails,
            });
        }
        Ok(Stubs { target, stubs })
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Every stub: entry, exit, illegal, then the handlers in opcode order.
    pub fn all(&self) -> &[GeneratedStub] {
        &self.stubs
    }

    /// The stub of `kind`.
    pub fn get(&self, kind: StubKind) -> &GeneratedStub {
        &self.stubs[index_of(kind)]
    }

    /// The handler of `op`.
    pub fn handler(&self, op: Opcode) -> &GeneratedStub {
        self.get(StubKind::Handler(op))
    }

    /// The handlers, in opcode order.
    pub fn handlers(&self) -> &[GeneratedStub] {
        &self.stubs[3..]
    }
}

/// The position of `kind` in [`Stubs::all`].
pub(crate) fn index_of(kind: StubKind) -> usize {
    match kind {
        StubKind::Entry => 0,
        StubKind::Exit => 1,
        StubKind::Illegal => 2,
        StubKind::Handler(op) => 3 + op as usize,
    }
}

/// Builds one stub from fragments, remembering where the dispatches are.
struct Gen {
    kind: StubKind,
    builder: StubBuilder,
    tails: Vec<Range<usize>>,
}

impl Gen {
    fn new(kind: StubKind, text: &str, args: &[Arg<'_>]) -> Result<Gen, VmError> {
        let builder = StubBuilder::new(text, args).map_err(|e| syntax(kind, text, e))?;
        Ok(Gen {
            kind,
            builder,
            tails: Vec::new(),
        })
    }

    fn handler(op: Opcode, body: &str, args: &[Arg<'_>]) -> Result<Gen, VmError> {
        let mut g = Gen::new(StubKind::Handler(op), HANDLER, &[])?;
        g.body(body, args)?;
        Ok(g)
    }

    fn body(&mut self, text: &str, args: &[Arg<'_>]) -> Result<&mut Gen, VmError> {
        let kind = self.kind;
        self.builder
            .append(text, args)
            .map_err(|e| syntax(kind, text, e))?;
        Ok(self)
    }

    /// Append the dispatch of the instruction whose operands take `operands` bytes.
    fn dispatch(&mut self, operands: usize) -> Result<&mut Gen, VmError> {
        let start = self.builder.clone().finish().body.len();
        let operands = operands as i128;
        self.body(DISPATCH, &[Arg::int(operands), Arg::int(operands + 1)])?;
        self.tails.push(start..start + DISPATCH_LEN);
        Ok(self)
    }

    fn done(self) -> (StubBuilder, Vec<Range<usize>>) {
        (self.builder, self.tails)
    }
}

fn syntax(kind: StubKind, text: &str, e: lil_syntax::SyntaxErrors) -> VmError {
    VmError::Syntax {
        stub: kind,
        rendered: e.render(&format!("{kind:?}"), text),
    }
}

/// The LIL of a stub.
fn source(kind: StubKind) -> Result<(StubBuilder, Vec<Range<usize>>), VmError> {
    use context::*;
    let op = match kind {
        StubKind::Entry => {
            // sp2/sp3 are not received, so this stub saves the registers
            // behind them and may pass them to a `call` (not a `tailcall`:
            // E0234). The first dispatch happens here.
            let g = Gen::new(
                kind,
                "entry 0:platform:pint,pint,pint,pint:g8;
                 locals 1;
                 std_places 4;
                 sp0 = i0;
                 sp1 = i1;
                 sp2 = i2;
                 sp3 = i3;
                 ld l0, [sp1+0:g1], zx;
                 sp1 = sp1 + 1;
                 ld l0, [sp0+l0*8:pint];
                 out platform::g8;
                 call l0;
                 ret;",
                &[],
            )?;
            return Ok(g.done());
        }
        StubKind::Exit => {
            // Entered by `tailcall` from a handler, so its `ret` returns to
            // the entry stub's `call`.
            let g = Gen::new(kind, "entry 4:platform::g8; r = sp3:g8; ret;", &[])?;
            return Ok(g.done());
        }
        StubKind::Illegal => {
            let g = Gen::new(
                kind,
                "entry 4:handler::void;
                 locals 1;
                 st [sp0+%0i:pint], %1i;
                 ld l0, [sp0+%2i:pint];
                 tailcall l0;",
                &[
                    Arg::int(STATUS),
                    Arg::int(STATUS_ILLEGAL_OPCODE),
                    Arg::int(EXIT),
                ],
            )?;
            return Ok(g.done());
        }
        StubKind::Handler(op) => op,
    };
    let g = match op {
        Opcode::Halt => {
            // No dispatch: the exit stub returns the cached top of stack.
            Gen::handler(op, "ld l0, [sp0+%0i:pint]; tailcall l0;", &[Arg::int(EXIT)])?
        }
        Opcode::Nop => {
            let mut g = Gen::handler(op, "", &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Push => {
            let mut g = Gen::handler(
                op,
                "ld l0, [sp1+0:g4], sx;
                 sp2 = sp2 - 8;
                 st [sp2+0:pint], sp3;
                 sp3 = l0;",
                &[],
            )?;
            g.dispatch(4)?;
            g
        }
        Opcode::Pop => {
            let mut g = Gen::handler(op, "ld sp3, [sp2+0:pint]; sp2 = sp2 + 8;", &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Dup => {
            let mut g = Gen::handler(op, "sp2 = sp2 - 8; st [sp2+0:pint], sp3;", &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Add | Opcode::Sub | Opcode::Mul => {
            let operator = match op {
                Opcode::Add => "+",
                Opcode::Sub => "-",
                _ => "*",
            };
            let body = format!(
                "ld l0, [sp2+0:pint];
                 sp2 = sp2 + 8;
                 sp3 = l0 {operator} sp3;"
            );
            let mut g = Gen::handler(op, &body, &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Lt => {
            // No set-on-condition in LIL: two paths, each with its own
            // dispatch (which also gives each its own indirect branch).
            let mut g = Gen::handler(
                op,
                "ld l0, [sp2+0:pint];
                 sp2 = sp2 + 8;
                 jc l0 < sp3, less;
                 sp3 = 0;",
                &[],
            )?;
            g.dispatch(0)?;
            g.body(":less; sp3 = 1;", &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Jmp => {
            let mut g = Gen::handler(op, "ld l0, [sp1+0:g4], sx; sp1 = sp1 + l0;", &[])?;
            g.dispatch(0)?;
            g
        }
        Opcode::Jz => {
            // Test the cached top before reloading it: the pop is repeated
            // on both paths rather than keeping a copy.
            let mut g = Gen::handler(
                op,
                "jc sp3 = 0, taken;
                 ld sp3, [sp2+0:pint];
                 sp2 = sp2 + 8;",
                &[],
            )?;
            g.dispatch(4)?;
            g.body(
                ":taken;
                 ld l0, [sp1+0:g4], sx;
                 ld sp3, [sp2+0:pint];
                 sp2 = sp2 + 8;
                 sp1 = sp1 + l0;",
                &[],
            )?;
            g.dispatch(0)?;
            g
        }
        Opcode::Load => {
            let mut g = Gen::handler(
                op,
                "ld l0, [sp1+0:g1], zx;
                 ld l0, [sp2+l0*8:pint];
                 sp2 = sp2 - 8;
                 st [sp2+0:pint], sp3;
                 sp3 = l0;",
                &[],
            )?;
            g.dispatch(1)?;
            g
        }
        Opcode::Store => {
            let mut g = Gen::handler(
                op,
                "ld l0, [sp1+0:g1], zx;
                 st [sp2+l0*8:pint], sp3;
                 ld sp3, [sp2+0:pint];
                 sp2 = sp2 + 8;",
                &[],
            )?;
            g.dispatch(1)?;
            g
        }
        Opcode::Call => {
            // The return address becomes the top of stack; the callee's
            // frame must fit above the limit (the only dynamic check).
            let mut g = Gen::handler(
                op,
                "ld l0, [sp1+0:g4], sx;
                 sp2 = sp2 - 8;
                 st [sp2+0:pint], sp3;
                 sp3 = sp1 + 4;
                 sp1 = sp1 + l0;
                 ld l1, [sp0+%0i:pint];
                 jc sp2 <u l1, overflow;",
                &[Arg::int(STACK_LIMIT)],
            )?;
            g.dispatch(0)?;
            g.body(
                ":overflow;
                 st [sp0+%0i:pint], %1i;
                 ld l1, [sp0+%2i:pint];
                 tailcall l1;",
                &[
                    Arg::int(STATUS),
                    Arg::int(STATUS_STACK_OVERFLOW),
                    Arg::int(EXIT),
                ],
            )?;
            g
        }
        Opcode::Ret => {
            let mut g = Gen::handler(
                op,
                "ld l0, [sp1+0:g1], zx;
                 ld l1, [sp1+1:g2], zx;
                 ld sp1, [sp2+l0*8:pint];
                 sp2 = sp2 + l1;",
                &[],
            )?;
            g.dispatch(0)?;
            g
        }
        Opcode::Print => {
            // The documented way to keep state across a native call: copy
            // the standard places to locals (callee-saved registers), call,
            // redeclare the places and restore them. The top of stack is the
            // argument; the pop reloads it from the stack.
            let mut g = Gen::handler(
                op,
                "l0 = sp0;
                 l1 = sp1;
                 l2 = sp2;
                 ld l3, [sp0+%0i:pint];
                 out platform:g8:void;
                 o0 = sp3:g8;
                 call l3;
                 std_places 4;
                 sp0 = l0;
                 sp1 = l1;
                 ld sp3, [l2+0:pint];
                 sp2 = l2 + 8;",
                &[Arg::int(PRINT)],
            )?;
            g.dispatch(0)?;
            g
        }
    };
    Ok(g.done())
}

impl GeneratedStub {
    /// Its machine instructions (without embedded data).
    pub fn instructions(&self) -> Vec<crate::disasm::Insn> {
        let end = (self.code.data_start as usize).min(self.code.code.len());
        crate::disasm::disassemble(self.code.target, &self.code.code[..end])
    }

    /// The machine instructions of each dispatch sequence.
    pub fn dispatch_instructions(&self) -> Vec<Vec<crate::disasm::Insn>> {
        let all = self.instructions();
        self.dispatch_code()
            .iter()
            .map(|ranges| crate::disasm::within(&all, ranges))
            .collect()
    }
}

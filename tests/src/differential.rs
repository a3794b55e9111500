//! Random valid stubs, run on every target and compared.
//!
//! [`Case::generate`] builds a stub from a stream of [`Choices`] (proptest
//! words in `tests/tests/differential.rs`, fuzzer bytes in `fuzz/`): a
//! stub whose first input is a 256-byte buffer, with arithmetic at every
//! width, loads, stores, `inc` and `cas` into the buffer, the thread block
//! and `alloc`ed memory, branches and bounded loops, calls to host functions
//! with mixed integer and floating-point arguments (some on the stack),
//! `in2out`, standard places passed to a stub, M2N frames around calls
//! (walked by a host function), `print`, and one of several endings (`ret`,
//! `tailcall` to a host function, to a stub, to an `arbitrary` stub that
//! calls before passing its arguments on, or to a `handler` stub;
//! `call.noret`). [`run`] runs
//! a case on one [`Target`] and records everything observable in an
//! [`Outcome`]; [`compare`] says how outcomes differ.
//!
//! Invariants a reader must not break:
//! - Every generated stub passes the checker (`tests/tests/differential.rs`
//!   asserts it for every case) and terminates: the only backward jumps are
//!   loops with a dedicated counter and a bound.
//! - Addresses differ between targets (the buffer, the thread block,
//!   `alloc`ed memory, host functions): they live only in the pointer locals
//!   `l0`–`l3` and the index temporary `l6`, are only ever used as address
//!   bases or call targets, and never reach a data variable, memory, a host
//!   function's recorded arguments or the result.
//! - Every access lies inside the buffer (256 bytes), the thread block's
//!   free area (64 bytes) or the live `alloc` area, and is naturally aligned
//!   where AArch64 requires it (`acquire`, `release`, `cas`).
//! - A choice of 0 is always the simplest option, and an exhausted stream
//!   gives 0s, so shrinking the stream simplifies the stub.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use lil_codegen::m2n::frame_type;
use lil_machine::{HostCall, HostSig, MachineError, Value};
use lil_syntax::Type::{self, F4, F8, G1, G2, G4, G8, Pint, Ref};

use crate::exec::{Runner, Target, thread_layout, walk_from_host};
use crate::semantics::{edge_values, imm, mask};

/// Bytes of the buffer every generated stub receives as `i0`.
pub const BUFFER: u32 = 256;
/// Bytes of the thread block's free area the stubs use (at `thread_layout::FREE`).
pub const THREAD_AREA: u32 = 64;
/// Bytes a stub without M2N frames `alloc`s in its prologue.
const ALLOC_ALL: u32 = 64;
/// Bytes an M2N region `alloc`s.
const ALLOC_M2N: u32 = 32;

// Local roles: pointers first, then loop counters, the index temporary,
// then data locals of fixed types.
const P_BUF: u32 = 0;
const P_MID: u32 = 1;
const P_TS: u32 = 2;
const P_ALLOC: u32 = 3;
const COUNTERS: [u32; 2] = [4, 5];
const INDEX: u32 = 6;
const FIRST_DATA: u32 = 7;

/// A source of choices: numbers below a bound.
pub trait Choices {
    /// A number in `0..n` (0 when `n` is 0 or the source is exhausted).
    fn below(&mut self, n: u32) -> u32;
    /// 32 arbitrary bits (0 when exhausted).
    fn word(&mut self) -> u32;
}

/// Choices read from a slice of words (what proptest generates and shrinks).
pub struct Words<'a> {
    words: &'a [u32],
    at: usize,
}

impl<'a> Words<'a> {
    /// Choices from `words`; 0s once they run out.
    pub fn new(words: &'a [u32]) -> Words<'a> {
        Words { words, at: 0 }
    }
}

impl Choices for Words<'_> {
    fn below(&mut self, n: u32) -> u32 {
        let w = self.word();
        if n == 0 { 0 } else { w % n }
    }

    fn word(&mut self) -> u32 {
        let w = self.words.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        w
    }
}

/// The host functions a generated stub can call, with their signatures.
/// `h_tail` has the stub's own signature and is registered per case.
pub const HOSTS: &[(&str, &[Type], Option<Type>)] = &[
    ("h_g8", &[G8], Some(G8)),
    ("h_narrow", &[G1, G2, G4, G8, Pint], Some(G4)),
    ("h_float", &[F8, G4, F4, G8], Some(F8)),
    (
        "h_many",
        &[
            G8, F8, G8, F8, G8, F8, G8, F8, G8, F8, G8, F8, G8, F8, G8, F8, G8, F8, G8, F8,
        ],
        Some(G8),
    ),
    ("h_store", &[G4, G8], None),
    ("h_void", &[], None),
    (
        "h_floats",
        &[F4, F4, F4, F4, F4, F4, F4, F4, F4, G2],
        Some(F4),
    ),
    (
        "h_bytes",
        &[G1, G1, G1, G1, G1, G1, G1, G1, G1, G1],
        Some(G2),
    ),
    ("h_walk", &[], Some(G8)),
    ("h_sum", &[G1], Some(G8)),
    ("h_throw", &[G8], None),
];

/// Index of a host in [`HOSTS`] by name.
fn host(name: &str) -> usize {
    HOSTS.iter().position(|h| h.0 == name).unwrap_or(0)
}

/// Hosts an ordinary `call` statement picks from (not the walker, which
/// needs an M2N frame to be interesting, nor the thrower).
const CALLABLE: &[&str] = &[
    "h_g8", "h_narrow", "h_float", "h_many", "h_store", "h_void", "h_floats", "h_bytes", "h_sum",
];

/// A stub that reads two standard places (called with them set).
pub const S_STD: &str = "entry 2:platform:g8,g8:g8;
locals 1;
l0 = sp0:g8 * i0;
r = sp1:g8 ^ l0;
r = r + i1;
ret;";

/// A stub with narrow parameters (called with `out`).
pub const S_NARROW: &str = "entry 0:platform:g1,g2,g4,g1:pint;
locals 2;
l0 = sx1 i0;
l1 = zx2 i1;
l0 = l0 * l1;
l1 = sx4 i2;
l0 = l0 - l1;
l1 = zx1 i3;
l1 = l1 << 7;
r = l0 ^ l1;
ret;";

/// An `arbitrary` stub that calls a host function (so it must keep every
/// argument register and stack argument intact) and passes its arguments
/// on to `h_tail`; it records what it computed in the thread area.
pub const S_ARB: &str = "entry 2:managed:arbitrary;
locals 2;
l0 = sp1;
out platform:g8:g8;
o0 = sp0:g8;
call @h_g8@;
l1 = ts;
st [l1+120:g8], r;
st [l1+112:pint], l0;
tailcall @h_tail@;";

/// A `handler` stub entered by `tailcall` with two standard places; it
/// ends by throwing with a value computed from them.
pub const S_HANDLER: &str = "entry 2:handler::void;
locals 1;
l0 = sp0:g8 ^ sp1:g8;
l0 = l0 * 3;
out platform:g8:void;
o0 = l0;
call.noret @h_throw@;";

/// One generated test case: the stubs (with `@name@` placeholders for the
/// addresses of host functions and stubs, which differ per target) and the
/// data they run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The stub under test.
    pub main: String,
    /// The stub `main` may `tailcall` (`@s_tail@`): same signature, two
    /// standard places on entry.
    pub tail: String,
    /// `main`'s parameters; `i0` is the buffer (`pint`).
    pub params: Vec<Type>,
    /// `main`'s return type.
    pub ret: Option<Type>,
    /// The raw bits of each argument (`args[0]` is replaced by the buffer's
    /// address); bits above a narrow type's width are junk on purpose.
    pub args: Vec<u64>,
    /// The buffer's initial contents.
    pub buffer: Vec<u8>,
    /// The thread block's free area's initial contents.
    pub thread: Vec<u8>,
    /// Whether `ts` calls a host function instead of reading a TLS slot.
    pub ts_by_call: bool,
}

/// Where a pointer local points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Buffer,
    Thread,
    Alloc,
}

/// The generator's state while it writes one stub.
struct Gen<'c> {
    c: &'c mut dyn Choices,
    text: String,
    labels: u32,
    budget: u32,
    params: Vec<Type>,
    ret: Option<Type>,
    /// Types of the data locals, from `FIRST_DATA` on.
    data: Vec<Type>,
    counter_ty: [Type; 2],
    uses_m2n: bool,
    // Flow state, reset where paths join.
    r: Option<Type>,
    std: Vec<Type>,
    alloc_live: Option<u32>,
    in_m2n: bool,
    loop_depth: usize,
}

const GENERAL: [Type; 6] = [G1, G2, G4, G8, Pint, Ref];
const ALL: [Type; 8] = [G1, G2, G4, G8, Pint, Ref, F4, F8];

fn is_wide(t: Type) -> bool {
    t.is_pointer_sized_integer()
}

impl Case {
    /// Generate a case from `c`.
    pub fn generate(c: &mut dyn Choices) -> Case {
        let mut params = vec![Pint];
        let extra = match c.below(4) {
            0 => c.below(4),
            1 | 2 => c.below(9),
            _ => 9 + c.below(14),
        };
        for _ in 0..extra {
            params.push(ALL[c.below(ALL.len() as u32) as usize]);
        }
        let ret = match c.below(10) {
            0 => None,
            k => Some(ALL[(k as usize - 1) % ALL.len()]),
        };
        let mut data: Vec<Type> = ALL.to_vec();
        // Sometimes many more locals than registers: spills everywhere.
        let extra_locals = match c.below(4) {
            0 => 0,
            1 => c.below(5),
            2 => c.below(12),
            _ => c.below(32),
        };
        for _ in 0..extra_locals {
            data.push(ALL[c.below(ALL.len() as u32) as usize]);
        }
        let counter_ty = [GENERAL[c.below(5) as usize], GENERAL[c.below(5) as usize]];
        let uses_m2n = c.below(3) == 1;
        let ts_by_call = c.below(5) == 1;
        let mut g = Gen {
            c,
            text: String::new(),
            labels: 0,
            budget: 80,
            params: params.clone(),
            ret,
            data,
            counter_ty,
            uses_m2n,
            r: None,
            std: Vec::new(),
            alloc_live: None,
            in_m2n: false,
            loop_depth: 0,
        };
        g.prologue();
        let terminated = g.block(0);
        if !terminated {
            g.ending();
        }
        let main = std::mem::take(&mut g.text);
        let tail = g.tail_stub();
        let args = params
            .iter()
            .map(|&t| {
                let v = g.value(t);
                let junk = u64::from(g.c.word()) << 32 | u64::from(g.c.word());
                match t.bits() {
                    64 => v,
                    n => v | (junk << n),
                }
            })
            .collect();
        let buffer = (0..BUFFER).map(|_| g.c.word() as u8).collect();
        let thread = (0..THREAD_AREA).map(|_| g.c.word() as u8).collect();
        Case {
            main,
            tail,
            params,
            ret,
            args,
            buffer,
            thread,
            ts_by_call,
        }
    }

    /// `main` with its placeholders filled from `names`.
    pub fn main_text(&self, names: &BTreeMap<&str, u64>) -> String {
        fill(&self.main, names)
    }

    /// The signature `main` is called with.
    pub fn sig(&self) -> HostSig {
        HostSig::new(&self.params, self.ret)
    }
}

/// Replace every `@name@` by the address in `names` (in hex).
pub fn fill(template: &str, names: &BTreeMap<&str, u64>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut parts = template.split('@');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut name = true;
    for part in parts {
        if name {
            match names.get(part) {
                Some(addr) => {
                    let _ = write!(out, "{addr:#x}");
                }
                None => {
                    let _ = write!(out, "@{part}@");
                }
            }
        } else {
            out.push_str(part);
        }
        name = !name;
    }
    out
}

impl Gen<'_> {
    fn line(&mut self, s: &str) {
        self.text.push_str(s);
        self.text.push('\n');
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.c.below(items.len() as u32) as usize]
    }

    fn label(&mut self) -> String {
        self.labels += 1;
        format!("L{}", self.labels)
    }

    fn local(&self, k: u32) -> String {
        format!("l{k}")
    }

    /// Bits of a value of type `t`, biased to edges and small numbers.
    fn value(&mut self, t: Type) -> u64 {
        let m = if t.is_float() {
            if t == F4 { 0xffff_ffff } else { u64::MAX }
        } else {
            mask(t)
        };
        let raw = match self.c.below(5) {
            0 => u64::from(self.c.below(17)),
            1 => {
                let edges = edge_values(if t.is_float() { G8 } else { t });
                edges[self.c.below(edges.len() as u32) as usize]
            }
            2 => (u64::from(self.c.below(16)) + 1).wrapping_neg(),
            3 if t.is_float() => {
                let floats = [1.5f64, -0.0, 1e300, f64::INFINITY, 3.25e-310];
                let f = floats[self.c.below(floats.len() as u32) as usize];
                if t == F4 {
                    u64::from((f as f32).to_bits())
                } else {
                    f.to_bits()
                }
            }
            _ => u64::from(self.c.word()) << 32 | u64::from(self.c.word()),
        };
        raw & m
    }

    /// The data variables holding a value of exactly type `t` here.
    fn vars_of(&self, t: Type) -> Vec<String> {
        let mut v: Vec<String> = self
            .data
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == t)
            .map(|(k, _)| self.local(FIRST_DATA + k as u32))
            .collect();
        for (k, p) in self.params.iter().enumerate().skip(1) {
            if *p == t {
                v.push(format!("i{k}"));
            }
        }
        if self.r == Some(t) {
            v.push("r".into());
        }
        for (k, s) in self.std.iter().enumerate() {
            if *s == t {
                v.push(format!("sp{k}"));
            }
        }
        v
    }

    /// A variable of type `t`, possibly another pointer-sized type cast to it.
    fn var(&mut self, t: Type) -> String {
        if is_wide(t) && self.c.below(4) == 1 {
            let other = self.pick(&[G8, Pint, Ref]);
            let vars = self.vars_of(other);
            if !vars.is_empty() {
                let v = self.pick_string(&vars);
                return if other == t { v } else { format!("{v}:{t}") };
            }
        }
        let vars = self.vars_of(t);
        self.pick_string(&vars)
    }

    fn pick_string(&mut self, items: &[String]) -> String {
        if items.is_empty() {
            return "r".into();
        }
        items[self.c.below(items.len() as u32) as usize].clone()
    }

    /// An immediate of type `t`, with its cast unless `infer` (the position
    /// gives it the type).
    fn imm(&mut self, t: Type, infer: bool) -> String {
        let v = self.value(t);
        let text = imm(t, v);
        if infer && self.c.below(3) != 0 {
            text
        } else {
            format!("{text}:{t}")
        }
    }

    /// A general operand of type `t`: a variable or an immediate.
    fn operand(&mut self, t: Type, infer: bool) -> String {
        if t.is_general() && self.c.below(3) == 0 {
            self.imm(t, infer)
        } else {
            self.var(t)
        }
    }

    /// A destination for a value of type `t`: a data local, `r` or an input.
    fn dst(&mut self, t: Type) -> String {
        match self.c.below(6) {
            0 => {
                self.r = Some(t);
                "r".into()
            }
            1 => {
                let inputs: Vec<String> = self
                    .params
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(_, p)| **p == t)
                    .map(|(k, _)| format!("i{k}"))
                    .collect();
                if inputs.is_empty() {
                    self.data_local(t)
                } else {
                    self.pick_string(&inputs)
                }
            }
            _ => self.data_local(t),
        }
    }

    /// An input of type `t` (not `i0`), or a data local if there is none.
    fn dst_input(&mut self, t: Type) -> String {
        let inputs: Vec<String> = self
            .params
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, p)| **p == t)
            .map(|(k, _)| format!("i{k}"))
            .collect();
        if inputs.is_empty() {
            self.data_local(t)
        } else {
            self.pick_string(&inputs)
        }
    }

    fn data_local(&mut self, t: Type) -> String {
        let locals: Vec<String> = self
            .data
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == t)
            .map(|(k, _)| self.local(FIRST_DATA + k as u32))
            .collect();
        self.pick_string(&locals)
    }

    /// An address of a `t` in the buffer, the thread area or the alloc
    /// area; naturally aligned if `aligned`.
    fn address(&mut self, t: Type, aligned: bool) -> String {
        let size = t.size();
        let mut bases = vec![(P_BUF, Region::Buffer, 0u32), (P_MID, Region::Buffer, 128)];
        bases.push((P_TS, Region::Thread, 0));
        if self.alloc_live.is_some() {
            bases.push((P_ALLOC, Region::Alloc, 0));
        }
        let (base, region, at) = self.pick(&bases);
        let (lo, hi) = match region {
            Region::Buffer => (0, BUFFER),
            Region::Thread => (
                thread_layout::FREE as u32,
                thread_layout::FREE as u32 + THREAD_AREA,
            ),
            Region::Alloc => (0, self.alloc_live.unwrap_or(8)),
        };
        let slots = (hi - lo - size) / if aligned { size } else { 1 } + 1;
        let pos = lo + self.c.below(slots) * if aligned { size } else { 1 };
        let off = i64::from(pos) - i64::from(at);
        match off {
            0 if self.c.below(2) == 0 => format!("[l{base}:{t}]"),
            o if o < 0 => format!("[l{base}-{}:{t}]", -o),
            o => format!("[l{base}+{o}:{t}]"),
        }
    }

    /// An address with a dynamic index into the buffer: emits the index
    /// computation (`l6` in 0..=15) first.
    fn indexed_address(&mut self, t: Type) -> String {
        let src_ty = self.pick(&GENERAL);
        let src = self.var(src_ty);
        let idx = self.local(INDEX);
        self.line(&format!("{idx} = zx1 {src};"));
        self.line(&format!("{idx} = {idx} & 15;"));
        let scale = self.pick(&[1u32, 2, 4, 8]);
        let max = BUFFER - 15 * scale - t.size();
        let off = self.c.below(max + 1);
        if self.c.below(2) == 0 {
            format!("[l{P_BUF}+{idx}*{scale}+{off}:{t}]")
        } else {
            format!("[l{P_BUF}+{scale}*{idx}+{off}:{t}]")
        }
    }

    fn with_order(addr: String, order: &str) -> String {
        match addr.strip_suffix(']') {
            Some(a) => format!("{a},{order}]"),
            None => addr,
        }
    }

    // ------------------------------------------------------------ prologue

    fn prologue(&mut self) {
        let params: Vec<&str> = self.params.iter().map(|t| t.keyword()).collect();
        let ret = self.ret.map_or("void", |t| t.keyword());
        let n = FIRST_DATA + self.data.len() as u32;
        self.line(&format!("entry 0:platform:{}:{ret};", params.join(",")));
        self.line(&format!("locals {n};"));
        self.line(&format!("l{P_BUF} = i0;"));
        self.line(&format!("l{P_MID} = i0 + 128;"));
        self.line(&format!("l{P_TS} = ts;"));
        if !self.uses_m2n {
            self.line(&format!("alloc l{P_ALLOC}, {ALLOC_ALL};"));
            for k in 0..ALLOC_ALL / 8 {
                let v = self.imm(G8, true);
                self.line(&format!("st [l{P_ALLOC}+{}:g8], {v};", 8 * k));
            }
            self.alloc_live = Some(ALLOC_ALL);
        }
        for k in 0..self.data.len() {
            let t = self.data[k];
            let dst = self.local(FIRST_DATA + k as u32);
            let inputs: Vec<String> = self
                .params
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(_, p)| **p == t)
                .map(|(k, _)| format!("i{k}"))
                .collect();
            match self.c.below(3) {
                0 if !inputs.is_empty() => {
                    let src = self.pick_string(&inputs);
                    self.line(&format!("{dst} = {src};"));
                }
                1 if t.is_general() => {
                    let v = self.imm(t, false);
                    self.line(&format!("{dst} = {v};"));
                }
                _ => {
                    let a = self.address(t, t.is_float());
                    self.line(&format!("ld {dst}, {a};"));
                }
            }
        }
    }

    // ------------------------------------------------------------- blocks

    /// Statements until the choices say stop; true if the block ended in a
    /// terminal instruction (then nothing may follow it).
    fn block(&mut self, depth: usize) -> bool {
        // Nested blocks stop sooner, so the budget is spread over the stub.
        let stop = 4 * depth as u32;
        loop {
            if self.budget == 0 {
                return false;
            }
            let k = self.c.below(26 + stop);
            if k <= stop {
                return false;
            }
            let kind = k - stop;
            self.budget -= 1;
            if self.statement(kind, depth) {
                return true;
            }
        }
    }

    /// One statement of kind `kind` (1..26); true if it is terminal.
    fn statement(&mut self, kind: u32, depth: usize) -> bool {
        match kind {
            1..=4 => self.arithmetic(),
            5 => self.unary(),
            6 => self.moves(),
            7 | 8 => self.load(),
            9 | 10 => self.store(),
            11 => self.inc(),
            12 => self.indexed(),
            13 | 14 if depth < 3 => return self.if_else(depth),
            15 if depth < 3 => return self.cas(depth),
            16 if depth < 3 && self.loop_depth < 2 => self.looped(depth),
            17 | 18 => self.host_call(),
            19 => self.in2out(),
            20 if self.uses_m2n && !self.in_m2n && depth < 3 => self.m2n_region(depth),
            21 => self.std_call(),
            22 => self.narrow_call(),
            23 => self.print(),
            24 if self.c.below(2) == 0 => self.std_scratch(),
            // `ts` again: a helper call mid-stub when `ts` is a call.
            24 => self.line(&format!("l{P_TS} = ts;")),
            25 if depth > 0 && !self.in_m2n => {
                self.early_return();
                return true;
            }
            _ => self.arithmetic(),
        }
        false
    }

    fn arithmetic(&mut self) {
        use lil_syntax::BinaryOp;
        let t = self.pick(&GENERAL);
        let op = self.pick(&BinaryOp::ALL);
        let s = op.symbol();
        let (mut a, mut b) = if op.is_shift() {
            let a = self.var(t);
            let b = if self.c.below(2) == 0 {
                format!("{}", self.c.below(64))
            } else {
                let ct = self.pick(&GENERAL);
                self.var(ct)
            };
            (a, b)
        } else if self.c.below(4) == 0 {
            (self.imm(t, true), self.var(t))
        } else if self.c.below(12) == 0 {
            // Both immediates: folded by the backends.
            (self.imm(t, false), self.imm(t, true))
        } else {
            (self.var(t), self.operand(t, true))
        };
        // Sometimes the destination is an operand too (`x = x op y`,
        // `x = y op x`, `x = x op x`): register allocators get this wrong.
        if self.c.below(3) == 0 {
            let d = if self.c.below(2) == 0 {
                self.data_local(t)
            } else {
                self.dst_input(t)
            };
            match self.c.below(3) {
                0 => a = d.clone(),
                1 => b = d.clone(),
                _ => (a, b) = (d.clone(), d.clone()),
            }
            self.line(&format!("{d} = {a} {s} {b};"));
            return;
        }
        let d = self.dst(t);
        self.line(&format!("{d} = {a} {s} {b};"));
    }

    fn unary(&mut self) {
        use lil_syntax::UnaryOp;
        let op = self.pick(&UnaryOp::ALL);
        // Extensions give a pint and truncations a gK, from an operand at
        // least K bytes wide; neg and not keep the operand's type.
        let (k, result) = match (op.extension(), op.truncation()) {
            (Some((k, _)), _) => (k, Some(Pint)),
            (_, Some(t)) => (t.size(), Some(t)),
            _ => (1, None),
        };
        let sources: Vec<Type> = GENERAL.iter().copied().filter(|t| t.size() >= k).collect();
        let t = self.pick(&sources);
        let a = self.operand(t, false);
        let d = self.dst(result.unwrap_or(t));
        self.line(&format!("{d} = {} {a};", op.keyword()));
    }

    fn moves(&mut self) {
        let t = self.pick(&ALL);
        let src = if t.is_float() {
            self.var(t)
        } else {
            self.operand(t, false)
        };
        let d = self.dst(t);
        self.line(&format!("{d} = {src};"));
    }

    fn load(&mut self) {
        let t = self.pick(&ALL);
        if t.is_general() && t.size() < 8 && self.c.below(3) == 0 {
            let ext = self.pick(&["sx", "zx"]);
            let addr = self.address(t, false);
            let d = self.dst(Pint);
            self.line(&format!("ld {d}, {addr}, {ext};"));
            return;
        }
        let acquire = self.c.below(4) == 0;
        let mut addr = self.address(t, acquire);
        if acquire {
            addr = Self::with_order(addr, "acquire");
        }
        let d = self.dst(t);
        self.line(&format!("ld {d}, {addr};"));
    }

    fn store(&mut self) {
        let t = self.pick(&ALL);
        let src = if t.is_float() {
            self.var(t)
        } else {
            self.operand(t, true)
        };
        let release = self.c.below(4) == 0;
        let mut addr = self.address(t, release);
        if release {
            addr = Self::with_order(addr, "release");
        }
        self.line(&format!("st {addr}, {src};"));
    }

    fn inc(&mut self) {
        let t = self.pick(&GENERAL);
        let addr = self.address(t, false);
        self.line(&format!("inc {addr};"));
    }

    fn indexed(&mut self) {
        let t = self.pick(&ALL);
        let addr = self.indexed_address(t);
        match self.c.below(3) {
            0 => {
                let d = self.data_local(t);
                self.line(&format!("ld {d}, {addr};"));
            }
            1 if t.is_general() => self.line(&format!("inc {addr};")),
            _ => {
                let src = if t.is_float() {
                    self.var(t)
                } else {
                    self.operand(t, true)
                };
                self.line(&format!("st {addr}, {src};"));
            }
        }
    }

    /// The state where paths join: `r` and standard places are forgotten.
    fn join(&mut self) {
        self.r = None;
        self.std.clear();
    }

    fn condition(&mut self) -> String {
        use lil_syntax::Predicate;
        let t = self.pick(&GENERAL);
        let p = self.pick(&Predicate::ALL).symbol();
        match self.c.below(8) {
            0 => {
                let a = self.imm(t, true);
                let b = self.var(t);
                format!("{a} {p} {b}")
            }
            1 => {
                let a = self.imm(t, false);
                let b = self.imm(t, true);
                format!("{a} {p} {b}")
            }
            _ => {
                let a = self.var(t);
                let b = self.operand(t, true);
                format!("{a} {p} {b}")
            }
        }
    }

    /// `jc`; then-branch; `j end`; else-branch; end.
    fn if_else(&mut self, depth: usize) -> bool {
        let cond = self.condition();
        let (otherwise, end) = (self.label(), self.label());
        self.line(&format!("jc {cond}, {otherwise};"));
        let saved = (self.r, self.std.clone());
        let then_done = self.block(depth + 1);
        if !then_done {
            self.line(&format!("j {end};"));
        }
        // The else branch is reached only by the jump: the state at `jc`.
        (self.r, self.std) = saved;
        self.line(&format!(":{otherwise};"));
        let else_done = self.block(depth + 1);
        self.join();
        // Both branches ended: nothing jumps to `end`, so there is no `end`
        // and the enclosing block ends here.
        if then_done && else_done {
            return true;
        }
        self.line(&format!(":{end};"));
        false
    }

    /// `cas` with a success and a failure branch; half the time the
    /// comparand is the value just loaded from the location.
    fn cas(&mut self, depth: usize) -> bool {
        let t = self.pick(&GENERAL);
        let addr = self.address(t, true);
        let cmp = if self.c.below(2) == 0 {
            let d = self.data_local(t);
            self.line(&format!("ld {d}, {addr};"));
            d
        } else {
            self.operand(t, true)
        };
        let src = self.operand(t, true);
        let (fail, end) = (self.label(), self.label());
        self.line(&format!("cas {addr} = {cmp}, {src}, {fail};"));
        let saved = (self.r, self.std.clone());
        let ok_done = self.block(depth + 1);
        if !ok_done {
            self.line(&format!("j {end};"));
        }
        (self.r, self.std) = saved;
        self.line(&format!(":{fail};"));
        let fail_done = self.block(depth + 1);
        self.join();
        if ok_done && fail_done {
            return true;
        }
        self.line(&format!(":{end};"));
        false
    }

    /// A loop of 0 to 4 iterations on a dedicated counter.
    fn looped(&mut self, depth: usize) {
        let k = self.loop_depth;
        let (counter, t) = (self.local(COUNTERS[k]), self.counter_ty[k]);
        let bound = self.c.below(5);
        let (head, exit) = (self.label(), self.label());
        let up = self.c.below(2) == 0;
        self.loop_depth += 1;
        if up {
            self.line(&format!("{counter} = 0:{t};"));
        } else {
            self.line(&format!("{counter} = {bound}:{t};"));
        }
        self.join();
        self.line(&format!(":{head};"));
        if up {
            let p = self.pick(&[">=u", ">="]);
            self.line(&format!("jc {counter} {p} {bound}, {exit};"));
        } else {
            self.line(&format!("jc {counter} = 0, {exit};"));
        }
        self.block(depth + 1);
        if up {
            self.line(&format!("{counter} = {counter} + 1;"));
        } else {
            self.line(&format!("{counter} = {counter} - 1;"));
        }
        self.line(&format!("j {head};"));
        self.line(&format!(":{exit};"));
        self.join();
        self.loop_depth -= 1;
    }

    /// Set up outputs for `params` and call `target`.
    fn call_with(&mut self, params: &[Type], ret: Option<Type>, target: &str) {
        let list: Vec<&str> = params.iter().map(|t| t.keyword()).collect();
        let r = ret.map_or("void", |t| t.keyword());
        self.line(&format!("out platform:{}:{r};", list.join(",")));
        let mut order: Vec<usize> = (0..params.len()).collect();
        if self.c.below(3) == 0 {
            order.reverse();
        }
        let mut set: Vec<usize> = Vec::new();
        for k in order {
            let t = params[k];
            let earlier: Vec<usize> = set.iter().copied().filter(|&j| params[j] == t).collect();
            let src = match self.c.below(6) {
                0 if !earlier.is_empty() => format!("o{}", self.pick(&earlier)),
                1 => {
                    let a = self.address(t, false);
                    self.line(&format!("ld o{k}, {a};"));
                    set.push(k);
                    continue;
                }
                _ if t.is_float() => self.var(t),
                _ => self.operand(t, true),
            };
            self.line(&format!("o{k} = {src};"));
            set.push(k);
        }
        if self.c.below(5) == 0 {
            // Through a register.
            self.line(&format!("l{INDEX} = {target};"));
            self.line(&format!("call l{INDEX};"));
        } else {
            self.line(&format!("call {target};"));
        }
        self.after_call(ret);
    }

    /// After a call: `r` has the callee's type; standard places are gone.
    fn after_call(&mut self, ret: Option<Type>) {
        self.std.clear();
        self.r = ret;
        if let Some(t) = ret
            && self.c.below(2) == 0
        {
            let d = self.data_local(t);
            self.line(&format!("{d} = r;"));
        }
    }

    fn host_call(&mut self) {
        let name = self.pick(CALLABLE);
        let (_, params, ret) = HOSTS[host(name)];
        self.call_with(params, ret, &format!("@{name}@"));
    }

    fn in2out(&mut self) {
        let r = self.ret.map_or("void", |t| t.keyword());
        self.line(&format!("in2out platform:{r};"));
        self.line("call @h_tail@;");
        self.after_call(self.ret);
    }

    fn std_call(&mut self) {
        let n = 2 + self.c.below(3);
        self.line(&format!("std_places {n};"));
        self.std.clear();
        for k in 0..n {
            let t = self.pick(&[G8, Pint, Ref]);
            let v = self.operand(t, false);
            self.line(&format!("sp{k} = {v};"));
            self.std.push(t);
        }
        self.call_with(&[G8, G8], Some(G8), "@s_std@");
    }

    fn narrow_call(&mut self) {
        self.call_with(&[G1, G2, G4, G1], Some(Pint), "@s_narrow@");
    }

    /// Standard places as scratch within one straight stretch.
    fn std_scratch(&mut self) {
        let n = 1 + self.c.below(4);
        self.line(&format!("std_places {n};"));
        self.std.clear();
        for k in 0..n {
            let t = self.pick(&GENERAL);
            let v = self.operand(t, false);
            self.line(&format!("sp{k} = {v};"));
            self.std.push(t);
        }
        let k = self.c.below(n) as usize;
        let t = self.std[k];
        let b = self.operand(t, true);
        let d = self.dst(t);
        self.line(&format!("{d} = sp{k} + {b};"));
    }

    /// `print` with a message whose length says how wide the operand is.
    fn print(&mut self) {
        let t = self.pick(&ALL);
        let len = match (self.c.below(4), t) {
            (0, _) => 3,
            (_, F4) => 5,
            (_, F8) => 9,
            (_, t) if t.size() == 8 => 8,
            (_, t) => t.size(),
        };
        let message = "p".repeat(len as usize);
        if len == 3 {
            self.line(&format!("print '{message}';"));
        } else {
            let v = if t.is_float() {
                self.var(t)
            } else {
                self.operand(t, false)
            };
            self.line(&format!("print '{message}', {v};"));
        }
    }

    fn m2n_region(&mut self, depth: usize) {
        let method = match self.c.below(3) {
            0 => format!("{:#x}", self.value(Pint)),
            1 => self.var(Pint),
            _ => self.var(G8),
        };
        let ft = self.pick(&[0, frame_type::JNI, frame_type::COMPILATION, 0x1234]);
        let handles = self.c.below(3) == 0;
        let form = match (self.c.below(3), handles) {
            (0, false) => "push_m2n;".to_string(),
            (1, false) => format!("push_m2n {method};"),
            (_, false) => format!("push_m2n {method}, {ft:#x};"),
            (0, true) => format!("push_m2n {method}, handles;"),
            (_, true) => format!("push_m2n {method}, {ft:#x}, handles;"),
        };
        self.line(&form);
        self.in_m2n = true;
        self.r = None;
        if self.c.below(2) == 0 {
            self.line(&format!("alloc l{P_ALLOC}, {ALLOC_M2N};"));
            for k in 0..ALLOC_M2N / 8 {
                let v = self.operand(G8, true);
                self.line(&format!("st [l{P_ALLOC}+{}:g8], {v};", 8 * k));
            }
            self.alloc_live = Some(ALLOC_M2N);
            if handles && self.c.below(2) == 0 {
                self.line(&format!("handles = l{P_ALLOC};"));
            }
        }
        if handles && self.c.below(3) == 0 {
            let v = self.operand(Pint, true);
            self.line(&format!("handles = {v};"));
        }
        if self.c.below(3) == 0 {
            self.line("m2n_save_all;");
        }
        self.line("out platform::g8;");
        self.line("call @h_walk@;");
        self.after_call(Some(G8));
        self.block(depth + 1);
        self.line("pop_m2n;");
        self.std.clear();
        self.alloc_live = None;
        self.in_m2n = false;
    }

    fn early_return(&mut self) {
        if let Some(t) = self.ret {
            let v = if t.is_float() {
                self.var(t)
            } else {
                self.operand(t, true)
            };
            self.line(&format!("r = {v};"));
        }
        self.line("ret;");
    }

    // ------------------------------------------------------------- endings

    fn ending(&mut self) {
        match self.c.below(8) {
            0..=2 => self.early_return(),
            3 => {
                // Standard places still live here may number more than the
                // two a stub that received none may pass on (E0234).
                self.line("std_places 0;");
                if self.c.below(3) == 0 {
                    self.line(&format!("l{INDEX} = @h_tail@;"));
                    self.line(&format!("tailcall l{INDEX};"));
                } else {
                    self.line("tailcall @h_tail@;");
                }
            }
            4 | 6 | 7 => {
                // The target reads the two places it receives.
                self.line("std_places 2;");
                self.std.clear();
                for k in 0..2 {
                    let t = self.pick(&[G8, Pint, Ref]);
                    let v = self.operand(t, false);
                    self.line(&format!("sp{k} = {v};"));
                    self.std.push(t);
                }
                let target = match self.c.below(3) {
                    0 => "@s_arb@",
                    1 => "@s_handler@",
                    _ => "@s_tail@",
                };
                self.line(&format!("tailcall {target};"));
            }
            _ => {
                if self.uses_m2n && self.c.below(2) == 0 {
                    self.line("push_m2n 0x7707, handles;");
                    self.r = None;
                }
                let v = self.operand(G8, true);
                self.line("out platform:g8:void;");
                self.line(&format!("o0 = {v};"));
                self.line("call.noret @h_throw@;");
            }
        }
    }

    /// The stub `main` may tail-call: same signature, two standard places;
    /// stores what it received into the buffer's last 80 bytes.
    fn tail_stub(&mut self) -> String {
        let params: Vec<&str> = self.params.iter().map(|t| t.keyword()).collect();
        let ret = self.ret.map_or("void", |t| t.keyword());
        let mut t = format!("entry 2:platform:{}:{ret};\n", params.join(","));
        t += "st [i0+240:pint], sp0;\nst [i0+248:pint], sp1;\n";
        let mut at = 176;
        for (k, p) in self.params.iter().enumerate().skip(1) {
            if at >= 240 {
                break;
            }
            let _ = writeln!(t, "st [i0+{at}:{p}], i{k};");
            at += 8;
        }
        match self.ret {
            None => t += "ret;\n",
            Some(r) => {
                let same = self
                    .params
                    .iter()
                    .enumerate()
                    .skip(1)
                    .find(|(_, p)| **p == r);
                match same {
                    Some((k, _)) if r.is_float() => {
                        let _ = writeln!(t, "r = i{k};");
                    }
                    Some((k, _)) => {
                        let _ = writeln!(t, "r = i{k} ^ 0x5a;");
                    }
                    None if r.is_float() => {
                        let _ = writeln!(t, "ld r, [i0+16:{r}];");
                    }
                    None => {
                        let _ = writeln!(t, "ld r, [i0+8:{r}];\nr = r + 3;");
                    }
                }
                t += "ret;\n";
            }
        }
        t
    }
}

// ----------------------------------------------------------------- running

/// Something a host function saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A host function was called with these arguments (bits normalized to
    /// the parameter types; the buffer pointer as 0).
    Call {
        /// The host function.
        host: &'static str,
        /// Its arguments.
        args: Vec<u64>,
    },
    /// The M2N walker's frames: method, frame type, whether handles are set.
    Walk(Vec<(u64, u64, bool)>),
    /// The M2N walker could not read a frame, and why: always a difference.
    WalkFailed(String),
    /// A `pop_m2n` hook: how many frames were linked, and whether its
    /// argument was the list head.
    Hook {
        /// `free_handles` or `pending_exception`.
        hook: &'static str,
        /// Frames on the list.
        frames: usize,
        /// The frame passed is the head.
        is_head: bool,
    },
    /// `print`: the message length and the operand at its width.
    Print {
        /// The message length.
        len: u64,
        /// The operand's bits at its width.
        value: u64,
    },
}

/// Everything observable about one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The result's bits at the return type's width, or how the call ended.
    pub result: Result<Option<u64>, String>,
    /// The buffer afterwards.
    pub buffer: Vec<u8>,
    /// The thread's free area afterwards.
    pub thread: Vec<u8>,
    /// Whether the M2N list is empty afterwards.
    pub m2n_empty: bool,
    /// What host functions saw, in order.
    pub events: Vec<Event>,
}

fn mix(h: u64, v: u64) -> u64 {
    let x = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

/// Run `case` on a fresh runner for `target`. An error here (the runner
/// cannot be built, a stub does not compile) is a failure of the target.
pub fn run(case: &Case, target: Target) -> Result<Outcome, String> {
    let mut r = if case.ts_by_call {
        Runner::with_ts_call(target)
    } else {
        Runner::new(target)
    }
    .map_err(|e| format!("runner: {e}"))?;
    let buf = r.alloc(BUFFER as usize, 16).map_err(|e| e.to_string())?;
    r.write_bytes(buf, &case.buffer)
        .map_err(|e| e.to_string())?;
    let area = r.thread_field(thread_layout::FREE);
    r.write_bytes(area, &case.thread)
        .map_err(|e| e.to_string())?;
    let (thread, log) = (r.thread(), Rc::new(RefCell::new(Vec::new())));
    let mut names: BTreeMap<&str, u64> = BTreeMap::new();
    for (id, &(name, params, ret)) in HOSTS.iter().enumerate() {
        let log = log.clone();
        let n = params.len();
        let f = move |c: &mut dyn HostCall| {
            let args: Vec<u64> = (0..n).map(|i| c.arg(i).bits).collect();
            log.borrow_mut().push(Event::Call {
                host: name,
                args: args.clone(),
            });
            let h = args.iter().fold(id as u64 + 1, |h, a| mix(h, *a));
            match name {
                "h_store" => {
                    let at = buf + args[0] % u64::from(BUFFER - 7);
                    c.write_u64(at, args[1]).ok()?;
                }
                "h_sum" => {
                    let mut bytes = vec![0u8; (args[0] % 64) as usize];
                    c.read(buf, &mut bytes).ok()?;
                    let sum = bytes.iter().fold(0u64, |s, b| mix(s, u64::from(*b)));
                    return Some(Value::int(G8, sum));
                }
                "h_walk" => {
                    let (frames, failure) = walk_from_host(c, target, thread);
                    let (event, n) = match failure {
                        Some(why) => (Event::WalkFailed(why), 0),
                        None => {
                            let frames: Vec<(u64, u64, bool)> = frames
                                .iter()
                                .map(|(_, f)| (f.method, f.frame_type, f.local_handles != 0))
                                .collect();
                            let n = frames.len() as u64;
                            (Event::Walk(frames), n)
                        }
                    };
                    log.borrow_mut().push(event);
                    return Some(Value::int(G8, n));
                }
                "h_throw" => return None,
                _ => {}
            }
            Some(Value {
                ty: ret.unwrap_or(G8),
                bits: h,
            })
        };
        let addr = r
            .host_fn(params, ret, f)
            .map_err(|e| format!("host {name}: {e}"))?;
        names.insert(name, addr);
    }
    // h_tail: the stub's own signature; the buffer pointer recorded as 0.
    {
        let log = log.clone();
        let (n, ret) = (case.params.len(), case.ret);
        let addr = r
            .host_fn(&case.params, case.ret, move |c| {
                let mut args: Vec<u64> = (0..n).map(|i| c.arg(i).bits).collect();
                args[0] = args[0].wrapping_sub(buf);
                let h = args.iter().fold(99, |h, a| mix(h, *a));
                log.borrow_mut().push(Event::Call {
                    host: "h_tail",
                    args,
                });
                Some(Value {
                    ty: ret.unwrap_or(G8),
                    bits: h,
                })
            })
            .map_err(|e| format!("host h_tail: {e}"))?;
        names.insert("h_tail", addr);
    }
    for hook in ["pending_exception", "free_handles"] {
        let log = log.clone();
        let addr = r
            .host_fn(&[Pint], None, move |c| {
                let (frames, _) = walk_from_host(c, target, thread);
                let head = c.read_u64(thread + thread_layout::M2N_LIST as u64).ok()?;
                log.borrow_mut().push(Event::Hook {
                    hook,
                    frames: frames.len(),
                    is_head: c.arg(0).bits == head,
                });
                Some(Value::pint(0))
            })
            .map_err(|e| format!("hook: {e}"))?;
        match hook {
            "pending_exception" => r.env_mut().m2n_hooks.pending_exception = Some(addr),
            _ => r.env_mut().m2n_hooks.free_handles = Some(addr),
        }
    }
    {
        let log = log.clone();
        let print = r
            .host_fn(&[Pint, Pint, G8], None, move |c| {
                let len = c.arg(1).bits;
                let width = match len {
                    1 | 2 | 4 => len * 8,
                    5 => 32,
                    8 | 9 => 64,
                    _ => 0,
                };
                let value = match width {
                    0 => 0,
                    64 => c.arg(2).bits,
                    w => c.arg(2).bits & ((1 << w) - 1),
                };
                log.borrow_mut().push(Event::Print { len, value });
                Some(Value::pint(0))
            })
            .map_err(|e| format!("print: {e}"))?;
        r.env_mut().print = Some(print);
    }
    for (name, text) in [
        ("s_std", S_STD),
        ("s_narrow", S_NARROW),
        ("s_arb", S_ARB),
        ("s_handler", S_HANDLER),
    ] {
        let text = fill(text, &names);
        let addr = r
            .compile(text.as_str())
            .map_err(|e| format!("compile {name}: {e}"))?;
        names.insert(name, addr);
    }
    let tail = fill(&case.tail, &names);
    let addr = r
        .compile(tail.as_str())
        .map_err(|e| format!("compile the tail stub: {e}"))?;
    names.insert("s_tail", addr);
    let main = case.main_text(&names);
    let addr = r
        .compile(main.as_str())
        .map_err(|e| format!("compile the stub: {e}"))?;
    let args: Vec<Value> = case
        .params
        .iter()
        .zip(&case.args)
        .enumerate()
        .map(|(k, (&ty, &bits))| Value {
            ty,
            bits: if k == 0 { buf } else { bits },
        })
        .collect();
    let result = match r.call(addr, &case.sig(), &args) {
        Ok(v) => Ok(v.map(|v| v.normalized().bits)),
        Err(MachineError::Unwound(at)) => {
            let who = names
                .iter()
                .find(|(_, a)| **a == at)
                .map_or("?", |(n, _)| *n);
            Err(format!("unwound by {who}"))
        }
        Err(e) => Err(format!("failed: {e}")),
    };
    let buffer = r
        .read_bytes(buf, BUFFER as usize)
        .map_err(|e| e.to_string())?;
    let thread_area = r
        .read_bytes(area, THREAD_AREA as usize)
        .map_err(|e| e.to_string())?;
    let head = r
        .read_u64(r.thread_field(thread_layout::M2N_LIST))
        .map_err(|e| e.to_string())?;
    let events = std::mem::take(&mut *log.borrow_mut());
    Ok(Outcome {
        result,
        buffer,
        thread: thread_area,
        m2n_empty: head == 0,
        events,
    })
}

/// How `got` differs from `want`, field by field; `None` if it does not.
pub fn difference(want: &Outcome, got: &Outcome) -> Option<String> {
    let mut d = String::new();
    if want.result != got.result {
        let _ = writeln!(d, "result: {:x?} vs {:x?}", want.result, got.result);
    }
    if let Err(e) = &got.result
        && !e.starts_with("unwound")
    {
        let _ = writeln!(d, "the call failed: {e}");
    }
    for (what, a, b) in [
        ("buffer", &want.buffer, &got.buffer),
        ("thread area", &want.thread, &got.thread),
    ] {
        let diffs: Vec<String> = a
            .iter()
            .zip(b)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| format!("[{i}] {x:02x} vs {y:02x}"))
            .collect();
        if !diffs.is_empty() {
            let _ = writeln!(d, "{what}: {}", diffs.join(", "));
        }
    }
    if want.m2n_empty != got.m2n_empty {
        let _ = writeln!(d, "M2N list empty: {} vs {}", want.m2n_empty, got.m2n_empty);
    }
    if want.events != got.events {
        let n = want
            .events
            .iter()
            .zip(&got.events)
            .take_while(|(a, b)| a == b)
            .count();
        let _ = writeln!(
            d,
            "host events differ from #{n}: {:x?} vs {:x?} ({} vs {} events)",
            want.events.get(n),
            got.events.get(n),
            want.events.len(),
            got.events.len()
        );
    }
    (!d.is_empty()).then_some(d)
}

/// Run `case` on every target in `targets` (the first is the reference)
/// and describe every difference; `Ok` with the reference outcome if all
/// agree.
pub fn compare(case: &Case, targets: &[Target]) -> Result<Outcome, String> {
    let mut outcomes = Vec::new();
    for &t in targets {
        match run(case, t) {
            Ok(o) => outcomes.push((t, o)),
            Err(e) => return Err(format!("{t}: {e}\n{}", describe(case))),
        }
    }
    let Some((first, want)) = outcomes.first().cloned() else {
        return Err("no targets".into());
    };
    let mut report = String::new();
    for (t, got) in &outcomes {
        if let Some(d) = difference(&want, got) {
            let _ = write!(report, "{first} vs {t}:\n{d}");
        }
    }
    if report.is_empty() {
        Ok(want)
    } else {
        Err(format!("{report}\n{}", describe(case)))
    }
}

/// The case as text, for failure reports.
pub fn describe(case: &Case) -> String {
    format!(
        "--- main stub (i0 = buffer; args {:x?}; ts by call: {}):\n{}--- tail stub:\n{}--- buffer {:02x?}\n--- thread area {:02x?}",
        case.args, case.ts_by_call, case.main, case.tail, case.buffer, case.thread
    )
}

/// Placeholder addresses for the `@name@`s of generated stubs (host
/// functions and stubs): any values give the same checker verdict and, for
/// a given set, the same code, which is all the census and the digest
/// examples need.
pub fn placeholder_names() -> BTreeMap<&'static str, u64> {
    let mut names: BTreeMap<&str, u64> = HOSTS
        .iter()
        .enumerate()
        .map(|(k, h)| (h.0, 0x7000_0000 + 16 * k as u64))
        .collect();
    let stubs = [
        "h_tail",
        "s_std",
        "s_narrow",
        "s_tail",
        "s_arb",
        "s_handler",
    ];
    for (k, n) in stubs.iter().enumerate() {
        names.insert(n, 0x6000_0000 + 16 * k as u64);
    }
    names
}

/// A deterministic stream of `n` words (xorshift) from `seed`: the
/// choices [`Case::generate`] reads through [`Words`] when a test or tool
/// wants the same cases on every run.
pub fn word_stream(seed: u64, n: usize) -> Vec<u32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 16) as u32
        })
        .collect()
}

/// The repository's `examples/*.lil`, as `(file name, text)` sorted by
/// name: inputs of the digest examples.
pub fn example_texts() -> Vec<(String, String)> {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut files: Vec<_> = std::fs::read_dir(examples)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "lil"))
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            Some((name.into_owned(), text))
        })
        .collect()
}

/// The stubs generated stubs call (`S_STD`, `S_NARROW`, `S_ARB`,
/// `S_HANDLER`), placeholders filled from `names`.
pub fn helper_stub_texts(names: &BTreeMap<&str, u64>) -> Vec<(String, String)> {
    [
        ("S_STD", S_STD),
        ("S_NARROW", S_NARROW),
        ("S_ARB", S_ARB),
        ("S_HANDLER", S_HANDLER),
    ]
    .into_iter()
    .map(|(name, text)| (name.to_owned(), fill(text, names)))
    .collect()
}

/// The main and tail stubs of the generated cases of seeds `0..n`
/// (`gen{seed}.main`, `gen{seed}.tail`), placeholders filled from `names`.
pub fn generated_texts(n: u64, names: &BTreeMap<&str, u64>) -> Vec<(String, String)> {
    let mut texts = Vec::with_capacity(2 * n as usize);
    for seed in 0..n {
        let case = Case::generate(&mut Words::new(&word_stream(seed, 700)));
        texts.push((format!("gen{seed}.main"), fill(&case.main, names)));
        texts.push((format!("gen{seed}.tail"), fill(&case.tail, names)));
    }
    texts
}

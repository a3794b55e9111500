//! Every LIL instruction form, run on both targets, checked against
//! `lil_tests::semantics` (the language's rules written independently of
//! the backends).
//!
//! The tables generate stubs from templates; each case is run with narrow
//! arguments whose bits above their width are garbage (the convention
//! leaves them unspecified), and every failure of a table is collected and
//! reported together with its stub text.

use std::collections::HashMap;

use lil_machine::{HostSig, MachineError, Value};
use lil_syntax::Type::{self, F4, F8, G1, G2, G4, G8, Pint};
use lil_syntax::{BinaryOp, Predicate, UnaryOp};
use lil_tests::exec::{Expect, Runner, val};
use lil_tests::exec_test;
use lil_tests::semantics::{self, edge_values, imm, mask};

const JUNK_A: u64 = 0xDEAD_BEEF_CAFE_F00D;
const JUNK_B: u64 = 0x0BAD_C0DE_5EED_1234;

/// Compiles each distinct stub text once, runs cases, collects failures.
struct Table<'r> {
    r: &'r mut Runner,
    stubs: HashMap<String, (u64, HostSig)>,
    failures: Vec<String>,
    cases: usize,
}

impl<'r> Table<'r> {
    fn new(r: &'r mut Runner) -> Table<'r> {
        Table {
            r,
            stubs: HashMap::new(),
            failures: Vec::new(),
            cases: 0,
        }
    }

    fn stub(&mut self, text: &str) -> (u64, HostSig) {
        if let Some(s) = self.stubs.get(text) {
            return s.clone();
        }
        let installed = self
            .r
            .compile_full(text)
            .or_fail(&format!("compile\n{text}\n"));
        let s = (installed.addr, installed.sig.expect("typed stub"));
        self.stubs.insert(text.to_string(), s.clone());
        s
    }

    /// Run `text` on `args`; a failure to run is recorded and gives `None`.
    fn call(&mut self, text: &str, args: &[Value]) -> Option<Option<Value>> {
        let (addr, sig) = self.stub(text);
        self.cases += 1;
        match self.r.call(addr, &sig, args) {
            Ok(v) => Some(v),
            Err(e) => {
                self.failures.push(format!("{text}\n  args {args:x?}: {e}"));
                None
            }
        }
    }

    /// Run `text` and compare its result with `want`.
    fn expect(&mut self, text: &str, args: &[Value], want: Option<Value>) {
        if let Some(got) = self.call(text, args)
            && got != want
        {
            self.failures.push(format!(
                "{text}\n  args {args:x?}\n  want {want:x?}\n  got  {got:x?}"
            ));
        }
    }

    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    #[track_caller]
    fn finish(self) {
        assert!(self.cases > 0, "the table ran nothing");
        eprintln!(
            "{} cases, {} stubs on {}",
            self.cases,
            self.stubs.len(),
            self.r.target()
        );
        if !self.failures.is_empty() {
            let shown: Vec<&str> = self.failures.iter().take(25).map(String::as_str).collect();
            panic!(
                "{} of {} cases failed on {}:\n{}",
                self.failures.len(),
                self.cases,
                self.r.target(),
                shown.join("\n")
            );
        }
    }
}

fn g(ty: Type, bits: u64) -> Value {
    Value::int(ty, bits)
}

// ------------------------------------------------------------ binary

const SHIFT_COUNTS: [u64; 13] = [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 255];
const SHIFT_IMMEDIATES: [u64; 10] = [0, 1, 7, 8, 15, 16, 31, 32, 33, 63];

fn binary_table(r: &mut Runner, ty: Type) {
    let mut t = Table::new(r);
    let values = edge_values(ty);
    for op in BinaryOp::ALL {
        let s = op.symbol();
        let (rhs_values, count_ty): (Vec<u64>, Type) = if op.is_shift() {
            (SHIFT_COUNTS.iter().map(|c| c & mask(ty)).collect(), ty)
        } else {
            (values.clone(), ty)
        };
        let reg_forms = [
            format!("entry 0:platform:{ty},{ty}:{ty}; r = i0 {s} i1; ret;"),
            format!(
                "entry 0:platform:{ty},{ty}:{ty}; locals 2; l0 = i0; l1 = i1; \
                 l0 = l0 {s} l1; r = l0; ret;"
            ),
            format!(
                "entry 0:platform:{ty},{ty}:{ty}; locals 1; l0 = i1; l0 = i0 {s} l0; r = l0; ret;"
            ),
            format!(
                "entry 0:platform:{ty},{ty}:{ty}; locals 1; l0 = i0; i0 = i1; \
                 l0 = l0 {s} i0; r = l0; ret;"
            ),
        ];
        for a in &values {
            for b in &rhs_values {
                let want = g(ty, semantics::binary(op, ty, *a, *b, count_ty));
                let args = [val::dirty(ty, *a, JUNK_A), val::dirty(ty, *b, JUNK_B)];
                for text in &reg_forms {
                    t.expect(text, &args, Some(want));
                }
            }
        }
        if op.is_shift() {
            // A count of another type (g1, junk above it).
            let text = format!("entry 0:platform:{ty},g1:{ty}; r = i0 {s} i1; ret;");
            for a in &values {
                for c in SHIFT_COUNTS {
                    let want = g(ty, semantics::binary(op, ty, *a, c, G1));
                    let args = [val::dirty(ty, *a, JUNK_A), val::dirty(G1, c, JUNK_B)];
                    t.expect(&text, &args, Some(want));
                }
            }
            for c in SHIFT_IMMEDIATES {
                let text = format!("entry 0:platform:{ty}:{ty}; r = i0 {s} {c}; ret;");
                for a in &values {
                    let want = g(ty, semantics::binary(op, ty, *a, c, G8));
                    t.expect(&text, &[val::dirty(ty, *a, JUNK_A)], Some(want));
                }
            }
        } else {
            for b in &values {
                let text = format!(
                    "entry 0:platform:{ty}:{ty}; r = i0 {s} {}; ret;",
                    imm(ty, *b)
                );
                for a in &values {
                    let want = g(ty, semantics::binary(op, ty, *a, *b, ty));
                    t.expect(&text, &[val::dirty(ty, *a, JUNK_A)], Some(want));
                }
            }
        }
        // An immediate first operand.
        for a in &values {
            let text = format!(
                "entry 0:platform:{ty}:{ty}; r = {} {s} i0; ret;",
                imm(ty, *a)
            );
            for b in &rhs_values {
                let want = g(ty, semantics::binary(op, ty, *a, *b, ty));
                t.expect(&text, &[val::dirty(ty, *b, JUNK_B)], Some(want));
            }
        }
    }
    t.finish();
}

exec_test!(
    fn binary_g1(r: &mut Runner) {
        binary_table(r, G1);
    }
);
exec_test!(
    fn binary_g2(r: &mut Runner) {
        binary_table(r, G2);
    }
);
exec_test!(
    fn binary_g4(r: &mut Runner) {
        binary_table(r, G4);
    }
);
exec_test!(
    fn binary_g8(r: &mut Runner) {
        binary_table(r, G8);
    }
);
exec_test!(
    fn binary_pint_and_ref(r: &mut Runner) {
        // Pointer-sized types relabel each other and compute like g8.
        let mut t = Table::new(r);
        let text = "entry 0:platform:ref,pint:pint; r = i0:pint + i1; ret;";
        t.expect(
            text,
            &[val::reference(u64::MAX), val::pint(2)],
            Some(val::pint(1)),
        );
        let text = "entry 0:platform:pint,g8:ref; locals 1; l0 = i0 - i1:pint; r = l0:ref; ret;";
        t.expect(
            text,
            &[val::pint(0), val::g8(1)],
            Some(val::reference(u64::MAX)),
        );
        t.finish();
    }
);

// ------------------------------------------------------------- unary

fn unary_table(r: &mut Runner) {
    let mut t = Table::new(r);
    for ty in [G1, G2, G4, G8, Pint] {
        for op in UnaryOp::ALL {
            if op.extension().is_some_and(|(n, _)| ty.size() < n)
                || op.truncation().is_some_and(|t| ty.size() < t.size())
            {
                continue;
            }
            let k = op.keyword();
            let (rt, _) = semantics::unary(op, ty, 0);
            let forms = [
                format!("entry 0:platform:{ty}:{rt}; r = {k} i0; ret;"),
                format!("entry 0:platform:{ty}:{rt}; locals 1; l0 = i0; l0 = {k} l0; r = l0; ret;"),
                // Only used when the result has the input's type.
                format!("entry 0:platform:{ty}:{rt}; i0 = {k} i0; r = i0; ret;"),
            ];
            for a in edge_values(ty) {
                let (rty, bits) = semantics::unary(op, ty, a);
                let want = Some(g(rty, bits));
                let args = [val::dirty(ty, a, JUNK_A)];
                t.expect(&forms[0], &args, want);
                t.expect(&forms[1], &args, want);
                if rty == ty {
                    t.expect(&forms[2], &args, want);
                }
                let text = format!("entry 0:platform::{rt}; r = {k} {}:{ty}; ret;", imm(ty, a));
                t.expect(&text, &[], want);
            }
        }
    }
    t.finish();
}

exec_test!(
    fn unary_every_operator_and_width(r: &mut Runner) {
        unary_table(r);
    }
);

// -------------------------------------------------------------- jc

fn jc_table(r: &mut Runner, ty: Type) {
    let mut t = Table::new(r);
    let values = edge_values(ty);
    let tail = "r = 0:g4; ret; :yes; r = 1:g4; ret;";
    for p in Predicate::ALL {
        let s = p.symbol();
        let forms = [
            format!("entry 0:platform:{ty},{ty}:g4; jc i0 {s} i1, yes; {tail}"),
            format!(
                "entry 0:platform:{ty},{ty}:g4; locals 2; l0 = i0; l1 = i1; jc l0 {s} l1, yes; {tail}"
            ),
        ];
        for a in &values {
            for b in &values {
                let want = Some(val::g4(u32::from(semantics::compare(p, ty, *a, *b))));
                let args = [val::dirty(ty, *a, JUNK_A), val::dirty(ty, *b, JUNK_B)];
                for text in &forms {
                    t.expect(text, &args, want);
                }
            }
        }
        for c in &values {
            let rhs = format!(
                "entry 0:platform:{ty}:g4; jc i0 {s} {}, yes; {tail}",
                imm(ty, *c)
            );
            let lhs = format!(
                "entry 0:platform:{ty}:g4; jc {} {s} i0, yes; {tail}",
                imm(ty, *c)
            );
            for v in &values {
                let arg = [val::dirty(ty, *v, JUNK_A)];
                let want = Some(val::g4(u32::from(semantics::compare(p, ty, *v, *c))));
                t.expect(&rhs, &arg, want);
                let want = Some(val::g4(u32::from(semantics::compare(p, ty, *c, *v))));
                t.expect(&lhs, &arg, want);
            }
        }
    }
    t.finish();
}

exec_test!(
    fn jc_g1(r: &mut Runner) {
        jc_table(r, G1);
    }
);
exec_test!(
    fn jc_g2(r: &mut Runner) {
        jc_table(r, G2);
    }
);
exec_test!(
    fn jc_g4(r: &mut Runner) {
        jc_table(r, G4);
    }
);
exec_test!(
    fn jc_g8(r: &mut Runner) {
        jc_table(r, G8);
    }
);

exec_test!(
    fn jumps_and_backward_loops(r: &mut Runner) {
        let mut t = Table::new(r);
        // Sum 0..n with a backward jump and an unconditional one.
        let text = "entry 0:platform:g8:g8; locals 1; l0 = 0:g8; r = 0:g8; \
                    :loop; jc l0 >=u i0, done; r = r + l0; l0 = l0 + 1; j loop; :done; ret;";
        for n in [0u64, 1, 2, 10, 1000] {
            t.expect(
                text,
                &[val::g8(n)],
                Some(val::g8(n * n.saturating_sub(1) / 2)),
            );
        }
        let text = "entry 0:platform:g4:g4; j second; :first; r = 1:g4; ret; \
                    :second; jc i0 = 0, first; r = 2:g4; ret;";
        t.expect(text, &[val::g4(0)], Some(val::g4(1)));
        t.expect(text, &[val::dirty(G4, 5, 0)], Some(val::g4(2)));
        t.expect(text, &[val::dirty(G4, 0, 1)], Some(val::g4(1)));
        t.finish();
    }
);

// ------------------------------------------------------ memory access

/// A 64-byte block with a recognizable pattern; the value lives at +8.
struct Block {
    at: u64,
    pattern: Vec<u8>,
}

impl Block {
    fn new(r: &mut Runner) -> Block {
        let at = r.alloc(64, 16).or_fail("block");
        let pattern = (0..64u8).map(|i| 0xC3 ^ i.wrapping_mul(37)).collect();
        Block { at, pattern }
    }

    fn reset(&self, r: &mut Runner, value: Option<(Type, u64)>) {
        r.write_bytes(self.at, &self.pattern).or_fail("fill");
        if let Some((ty, v)) = value {
            r.write_uint(self.at + 8, ty.size() as usize, v)
                .or_fail("value");
        }
    }

    /// The bytes expected after storing `v` at +8.
    fn with(&self, ty: Type, v: u64) -> Vec<u8> {
        let mut b = self.pattern.clone();
        let n = ty.size() as usize;
        b[8..8 + n].copy_from_slice(&v.to_le_bytes()[..n]);
        b
    }
}

fn check_block(t: &mut Table, block: &Block, want: Vec<u8>, what: &str) {
    let got = t.r.read_bytes(block.at, 64).or_fail("read block");
    if got != want {
        t.fail(format!(
            "{what}\n  memory want {want:02x?}\n  memory got  {got:02x?}"
        ));
    }
}

fn memory_table(r: &mut Runner) {
    let mut t = Table::new(r);
    let block = Block::new(t.r);
    let at = block.at;
    for ty in [G1, G2, G4, G8, Pint, F4, F8] {
        let n = ty.size() as usize;
        let m = mask(if ty.is_float() {
            if n == 4 { G4 } else { G8 }
        } else {
            ty
        });
        let values: Vec<u64> = if ty.is_float() {
            vec![
                0x8000_0001 & m,
                0x7ff8_0000_0000_0001 & m,
                0x3ff0_0000_0000_0000 & m,
            ]
        } else {
            edge_values(ty)
        };
        let value_of = |v: u64| Value { ty, bits: v };
        // Loads, with every address form that reaches +8.
        let mut loads = vec![
            (
                format!("entry 0:platform:pint:{ty}; ld r, [i0+8:{ty}]; ret;"),
                at,
            ),
            (
                format!("entry 0:platform:pint:{ty}; ld r, [i0+8:{ty},acquire]; ret;"),
                at,
            ),
            (
                format!("entry 0:platform:pint:{ty}; ld r, [i0-8:{ty}]; ret;"),
                at + 16,
            ),
            (
                format!(
                    "entry 0:platform:pint:{ty}; ld r, [{:#x}:{ty}]; ret;",
                    at + 8
                ),
                0,
            ),
            (
                format!("entry 0:platform:pint:{ty}; locals 1; ld l0, [i0+8:{ty}]; r = l0; ret;"),
                at,
            ),
        ];
        for off in [
            4095i64,
            4096,
            32760,
            32768,
            65544,
            0x7fff_fff8,
            0x1_0000_0000,
            -4097,
            -0x8000_0000,
        ] {
            let base = (at + 8).wrapping_sub(off as u64);
            let sign = if off < 0 { "-" } else { "+" };
            loads.push((
                format!(
                    "entry 0:platform:pint:{ty}; ld r, [i0{sign}{:#x}:{ty}]; ret;",
                    off.unsigned_abs()
                ),
                base,
            ));
        }
        for v in &values {
            block.reset(t.r, Some((ty, *v)));
            for (text, base) in &loads {
                t.expect(text, &[val::pint(*base)], Some(value_of(*v).normalized()));
            }
            // Scaled index, both spellings, with and without a base.
            for scale in [1u64, 2, 4, 8] {
                let index = 3u64;
                let forms = [
                    format!("entry 0:platform:pint,pint:{ty}; ld r, [i0+i1*{scale}+16:{ty}]; ret;"),
                    format!(
                        "entry 0:platform:pint,pint:{ty}; ld r, [i0+{scale}*i1-16+32:{ty}]; ret;"
                    ),
                ];
                let base = (at + 8).wrapping_sub(16 + index * scale);
                for text in &forms {
                    t.expect(
                        text,
                        &[val::pint(base), val::pint(index)],
                        Some(value_of(*v).normalized()),
                    );
                }
                let no_base = format!(
                    "entry 0:platform:pint:{ty}; ld r, [i0*{scale}+{:#x}:{ty}]; ret;",
                    at + 8 - index * scale
                );
                t.expect(
                    &no_base,
                    &[val::pint(index)],
                    Some(value_of(*v).normalized()),
                );
            }
            if ty.is_general() && n < 8 {
                for (ext, want) in [
                    ("sx", semantics::sext(ty, *v) as u64),
                    ("zx", *v & mask(ty)),
                ] {
                    let forms = [
                        format!("entry 0:platform:pint:pint; ld r, [i0+8:{ty}],{ext}; ret;"),
                        format!(
                            "entry 0:platform:pint:pint; locals 1; ld l0, [i0+8:{ty},acquire],{ext}; r = l0; ret;"
                        ),
                    ];
                    for text in &forms {
                        t.expect(text, &[val::pint(at)], Some(val::pint(want)));
                    }
                }
            }
        }
        // Stores: exactly the type's bytes change.
        let stores = [
            format!("entry 0:platform:pint,{ty}:void; st [i0+8:{ty}], i1; ret;"),
            format!("entry 0:platform:pint,{ty}:void; st [i0+8:{ty},release], i1; ret;"),
            format!("entry 0:platform:pint,{ty}:void; st [i0+0x10008:{ty}], i1; ret;"),
            format!(
                "entry 0:platform:pint,{ty}:void; st [{:#x}:{ty}], i1; ret;",
                at + 8
            ),
            format!(
                "entry 0:platform:pint,{ty}:void; locals 1; l0 = i1; st [i0+i0*1+8:{ty}], l0; ret;"
            ),
        ];
        let bases = [at, at, at - 0x10000, at, 0];
        for v in &values {
            for (text, base) in stores.iter().zip(bases) {
                // The last form doubles its base: pass half the address.
                let base = if text.contains("i0+i0*1") {
                    at / 2
                } else {
                    base
                };
                if text.contains("i0+i0*1") && at % 2 == 1 {
                    continue;
                }
                block.reset(t.r, None);
                let arg = if ty.is_float() {
                    Value { ty, bits: *v }
                } else {
                    val::dirty(ty, *v, JUNK_B)
                };
                t.expect(text, &[val::pint(base), arg], None);
                check_block(&mut t, &block, block.with(ty, *v), text);
            }
            if ty.is_general() {
                let text = format!(
                    "entry 0:platform:pint:void; st [i0+8:{ty}], {}; ret;",
                    imm(ty, *v)
                );
                block.reset(t.r, None);
                t.expect(&text, &[val::pint(at)], None);
                check_block(&mut t, &block, block.with(ty, *v), &text);
                // inc wraps at the width and touches nothing else.
                let text = format!("entry 0:platform:pint:void; inc [i0+8:{ty}]; ret;");
                block.reset(t.r, Some((ty, *v)));
                t.expect(&text, &[val::pint(at)], None);
                let want = block.with(ty, v.wrapping_add(1) & mask(ty));
                check_block(&mut t, &block, want, &text);
            }
        }
    }
    t.finish();
}

exec_test!(
    fn ld_st_inc_every_width_and_address_form(r: &mut Runner) {
        memory_table(r);
    }
);

exec_test!(
    fn alloc_gives_distinct_frame_memory(r: &mut Runner) {
        let text = "entry 0:platform:g8,g8:g8; locals 2; alloc l0, 24; alloc l1, 8; \
                    st [l0+16:g8], i0; st [l1+0:g8], i1; st [l0+0:g8], 0:g8; \
                    ld r, [l0+16:g8]; ld l0, [l1+0:g8]; r = r - l0; ret;";
        let got = r.run(text, &[val::g8(100), val::g8(58)]).or_fail("run");
        assert_eq!(got, Some(val::g8(42)));
    }
);

exec_test!(
    /// Frames of a page or more are set up page by page (stack probes):
    /// the stub still gets its whole `alloc` area, callee-saved registers
    /// and inputs survive, and a call made from the big frame works.
    fn alloc_larger_than_a_page_is_probed_and_usable(r: &mut Runner) {
        let add = r
            .host_fn(&[G8, G8], Some(G8), |c| {
                Some(val::g8(c.arg(0).bits.wrapping_add(c.arg(1).bits)))
            })
            .or_fail("host function");
        for size in [4096u32, 4104, 65536, 200_000] {
            let last = size - 8;
            let text = format!(
                "entry 0:platform:g8,g8:g8; locals 3; alloc l0, {size}; \
                 st [l0+0:g8], i0; st [l0+{last}:g8], i1; l2 = i0 + 1; \
                 out platform:g8,g8:g8; ld o0, [l0+0:g8]; ld o1, [l0+{last}:g8]; \
                 call {add:#x}; r = r + l2; ret;"
            );
            let got = r
                .run(text.as_str(), &[val::g8(1000), val::g8(7)])
                .or_fail(&text);
            assert_eq!(got, Some(val::g8(2008)), "{text}");
        }
    }
);

// ------------------------------------------------------------- floats

const F8_BITS: [u64; 7] = [
    0x8000_0000_0000_0000, // -0.0
    0x7ff8_0000_0000_0abc, // NaN with payload
    0x0000_0000_0000_0001, // smallest subnormal
    0x7ff0_0000_0000_0000, // +inf
    0x7fef_ffff_ffff_ffff, // max
    0x4009_21fb_5444_2d18, // pi
    0xc000_0000_0000_0000, // -2
];
const F4_BITS: [u64; 5] = [
    0x8000_0000,
    0x7fc0_0abc,
    0x0000_0001,
    0x7f80_0000,
    0x4049_0fdb,
];

exec_test!(
    fn float_moves_and_returns(r: &mut Runner) {
        let mut t = Table::new(r);
        for (ty, bits) in [(F8, &F8_BITS[..]), (F4, &F4_BITS[..])] {
            let forms = [
                format!("entry 0:platform:{ty},{ty}:{ty}; r = i1; ret;"),
                format!(
                    "entry 0:platform:{ty},{ty}:{ty}; locals 2; l1 = i0; l0 = i1; r = l0; ret;"
                ),
                format!("entry 0:platform:g8,{ty},{ty}:{ty}; i1 = i2; r = i1; ret;"),
            ];
            for a in bits {
                for b in bits {
                    let (x, y) = (Value { ty, bits: *a }, Value { ty, bits: *b });
                    t.expect(&forms[0], &[x, y], Some(y));
                    t.expect(&forms[1], &[x, y], Some(y));
                    t.expect(&forms[2], &[val::g8(1), x, y], Some(y));
                }
            }
        }
        t.finish();
    }
);

exec_test!(
    fn float_and_integer_arguments_mixed_past_the_registers(r: &mut Runner) {
        // 12 floats (4 beyond the 8 vector registers) interleaved with
        // integers (some beyond the integer registers on x86-64): each input
        // is stored at 8*k.
        // Integers: 9 with the base, one beyond the registers on AArch64,
        // three on x86-64.
        let mut params = vec![Pint];
        for k in 0..12 {
            params.push(if k % 2 == 0 { F8 } else { F4 });
            if k % 2 == 0 {
                params.push(if k % 4 == 0 { G4 } else { G8 });
            }
        }
        params.extend([G8, G2, F8]);
        let last = params.len() - 1;
        let list: Vec<String> = params.iter().map(|t| t.to_string()).collect();
        let mut text = format!("entry 0:platform:{}:f8;", list.join(","));
        for (k, ty) in params.iter().enumerate().skip(1) {
            text += &format!(" st [i0+{}:{ty}], i{k};", 8 * k);
        }
        text += &format!(" r = i{last}; ret;");
        let mem = r.alloc(8 * params.len(), 16).or_fail("memory");
        r.write_bytes(mem, &vec![0xEE; 8 * params.len()])
            .or_fail("fill");
        let args: Vec<Value> = params
            .iter()
            .enumerate()
            .map(|(k, ty)| match ty {
                Pint => val::pint(mem),
                F8 => Value::f8(k as f64 * -1.25e-300),
                F4 => Value::f4(k as f32 * 3.5),
                _ => val::dirty(*ty, 0x1234_5678_9ABC_DEF0 ^ k as u64, JUNK_A),
            })
            .collect();
        let got = r.run(&text, &args).or_fail("run");
        assert_eq!(got, Some(args[last]));
        for (k, (ty, arg)) in params.iter().zip(&args).enumerate().skip(1) {
            let n = ty.size() as usize;
            let bytes = r.read_bytes(mem + 8 * k as u64, 8).or_fail("read");
            let mut want = arg.normalized().bits.to_le_bytes();
            want[n..].fill(0xEE);
            assert_eq!(bytes, want, "input {k} ({ty})");
        }
    }
);

exec_test!(
    fn float_outputs_and_results_through_host_calls(r: &mut Runner) {
        // 10 f8 and 3 f4 outputs, so some go on the stack; the host returns
        // an f4; float locals live across the call.
        let mut params = vec![F8; 10];
        params.extend([F4, G8, F4, F4]);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s = seen.clone();
        let n = params.len();
        let host = r
            .host_fn(&params, Some(F4), move |c| {
                s.borrow_mut().extend((0..n).map(|i| c.arg(i)));
                Some(Value::f4(-7.5))
            })
            .or_fail("host");
        let list: Vec<String> = params.iter().map(|t| t.to_string()).collect();
        let mut text = format!(
            "entry 0:platform:pint,f8,f4:f8; locals 2; l0 = i1; l1 = i2; out platform:{}:f4;",
            list.join(",")
        );
        for k in 0..10 {
            text += &format!(" ld o{k}, [i0+{}:f8];", 8 * k);
        }
        text += &format!(
            " o10 = l1; o11 = 99:g8; o12 = i2; ld o13, [i0+80:f4]; call {host:#x}; \
             st [i0+96:f4], r; st [i0+104:f4], l1; r = l0; ret;"
        );
        let mem = r.alloc(128, 16).or_fail("memory");
        let table: Vec<u64> = (0..10).map(|k| (k as f64 + 0.5).to_bits()).collect();
        for (k, v) in table.iter().enumerate() {
            r.write_u64(mem + 8 * k as u64, *v).or_fail("table");
        }
        r.write_u32(mem + 80, 1.25f32.to_bits()).or_fail("f4");
        let (x, y) = (Value::f8(-3.0e-310), Value::f4(6.0));
        let got = r.run(&text, &[val::pint(mem), x, y]).or_fail("run");
        assert_eq!(got, Some(x), "f8 local across the call");
        let seen = seen.borrow();
        for k in 0..10 {
            assert_eq!(seen[k].bits, table[k], "output {k}");
        }
        assert_eq!(seen[10], y);
        assert_eq!(seen[11], val::g8(99));
        assert_eq!(seen[12], y);
        assert_eq!(seen[13], Value::f4(1.25));
        assert_eq!(r.read_u32(mem + 96).or_fail("r"), (-7.5f32).to_bits());
        assert_eq!(r.read_u32(mem + 104).or_fail("l1"), 6.0f32.to_bits());
    }
);

// ------------------------------------------- registers, calls, places

/// A stub that uses every register it can get (20 general and 20 float
/// locals, all live at once): calling it clobbers the caller-saved
/// registers on both machines (the emulator's host functions clobber
/// nothing).
fn clobber_stub(r: &mut Runner) -> u64 {
    let mut text = String::from("entry 0:platform:pint,g8,f8:g8; locals 40;");
    for k in 0..20 {
        text += &format!(" l{k} = i1 ^ {:#x};", 0x1111 * (k + 1));
        text += &format!(" l{} = i2;", 20 + k);
    }
    text += " r = 0:g8;";
    for k in 0..20 {
        text += &format!(" r = r + l{k}; st [i0+{}:f8], l{};", 8 * k, 20 + k);
    }
    text += " ret;";
    r.compile(&text).or_fail("compile the clobber stub")
}

exec_test!(
    fn thirty_locals_live_across_calls(r: &mut Runner) {
        let clobber = clobber_stub(r);
        let host = r
            .host_fn(&[G8], Some(G8), |c| Some(val::g8(c.arg(0).bits * 3)))
            .or_fail("host");
        let mut text = String::from("entry 0:platform:pint,g8:g8; locals 40;");
        for k in 0..30 {
            text += &format!(" l{k} = i1 + {};", 1000 * (k + 1));
        }
        for k in 0..10 {
            text += &format!(" ld l{}, [i0+{}:f8];", 30 + k, 8 * k);
        }
        text += &format!(
            " out platform:pint,g8,f8:g8; o0 = i0 + 512; o1 = -1:g8; o2 = l30; call {clobber:#x};\
              out platform:g8:g8; o0 = i1; call {host:#x};"
        );
        for k in 0..30 {
            text += &format!(" st [i0+{}:g8], l{k};", 128 + 8 * k);
        }
        for k in 0..10 {
            text += &format!(" st [i0+{}:f8], l{};", 384 + 8 * k, 30 + k);
        }
        text += " ret;";
        let mem = r.alloc(1024, 16).or_fail("memory");
        let floats: Vec<u64> = (0..10).map(|k| (k as f64 * 1.5 - 4.0).to_bits()).collect();
        for (k, v) in floats.iter().enumerate() {
            r.write_u64(mem + 8 * k as u64, *v).or_fail("floats");
        }
        let got = r.run(&text, &[val::pint(mem), val::g8(7)]).or_fail("run");
        assert_eq!(got, Some(val::g8(21)));
        for k in 0..30u64 {
            let v = r.read_u64(mem + 128 + 8 * k).or_fail("read");
            assert_eq!(v, 7 + 1000 * (k + 1), "l{k}");
        }
        for k in 0..10u64 {
            let v = r.read_u64(mem + 384 + 8 * k).or_fail("read");
            assert_eq!(v, floats[k as usize], "l{}", 30 + k);
        }
    }
);

exec_test!(
    fn outputs_on_the_stack_and_in2out(r: &mut Runner) {
        // 12 integer and 10 float parameters: stack arguments on both targets.
        let mut params = vec![G8; 12];
        params.extend([F8; 10]);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s = seen.clone();
        let n = params.len();
        let host = r
            .host_fn(&params, Some(G8), move |c| {
                let args: Vec<Value> = (0..n).map(|i| c.arg(i)).collect();
                let sum = args
                    .iter()
                    .take(12)
                    .fold(0u64, |a, v| a.wrapping_add(v.bits));
                s.borrow_mut().push(args);
                Some(val::g8(sum))
            })
            .or_fail("host");
        let list: Vec<String> = params.iter().map(|t| t.to_string()).collect();
        let sig = list.join(",");
        let clobber = clobber_stub(r);
        // in2out after an input was changed and after a call that clobbered
        // every argument register.
        let in2out = format!(
            "entry 0:platform:{sig}:g8; i3 = 77:g8; i20 = i21; \
             out platform:pint,g8,f8:g8; o0 = i0:pint; o1 = i1; o2 = i12; call {clobber:#x}; \
             in2out platform:g8; call {host:#x}; ret;"
        );
        let mem = r.alloc(256, 16).or_fail("scratch for the clobber stub");
        let args: Vec<Value> = params
            .iter()
            .enumerate()
            .map(|(k, t)| match t {
                F8 => Value::f8(k as f64 + 0.125),
                _ if k == 0 => val::g8(mem),
                _ => val::g8(0x0101_0101_0101_0101 * k as u64),
            })
            .collect();
        let want_sum = args.iter().take(12).enumerate().fold(0u64, |a, (k, v)| {
            a.wrapping_add(if k == 3 { 77 } else { v.bits })
        });
        let got = r.run(&in2out, &args).or_fail("in2out");
        assert_eq!(got, Some(val::g8(want_sum)));
        {
            let seen = seen.borrow();
            for (k, v) in seen[0].iter().enumerate() {
                let want = match k {
                    3 => val::g8(77),
                    20 => args[21],
                    _ => args[k],
                };
                assert_eq!(*v, want, "in2out argument {k}");
            }
        }
        // out with every output written from a computation.
        let mut text = format!("entry 0:platform:g8,f8:g8; out platform:{sig}:g8;");
        for k in 0..12 {
            text += &format!(" o{k} = i0 + {k};");
        }
        for k in 12..22 {
            text += &format!(" o{k} = i1;");
        }
        text += &format!(" call {host:#x}; r = r + 1; ret;");
        let got = r.run(&text, &[val::g8(100), Value::f8(2.5)]).or_fail("out");
        assert_eq!(
            got,
            Some(val::g8((0..12).map(|k| 100 + k).sum::<u64>() + 1))
        );
        let seen = seen.borrow();
        for (k, v) in seen[1].iter().enumerate() {
            let want = if k < 12 {
                val::g8(100 + k as u64)
            } else {
                Value::f8(2.5)
            };
            assert_eq!(*v, want, "output {k}");
        }
    }
);

exec_test!(
    fn four_std_places_survive_tailcalls(r: &mut Runner) {
        // The last stub combines the four places and its input.
        let last = r
            .compile(
                "entry 4:platform:g8:g8; locals 1; \
                 r = i0 + sp0:g8; l0 = sp1:g8 << 8; r = r ^ l0; \
                 l0 = sp2:g8 << 16; r = r ^ l0; l0 = sp3:g8 << 24; r = r ^ l0; ret;",
            )
            .or_fail("last");
        // A stub that received four places changes one and passes all on.
        let middle = r
            .compile(format!(
                "entry 4:platform:g8:g8; sp0 = sp0 + 0x100000; tailcall {last:#x};"
            ))
            .or_fail("middle");
        // The first writes four places and calls; its 30 locals live across
        // the call check that sp2/sp3's callee-saved registers come back.
        let mut text = String::from("entry 0:platform:g8:g8; locals 30;");
        for k in 0..30 {
            text += &format!(" l{k} = i0 * {};", k + 2);
        }
        text += &format!(
            " std_places 4; sp0 = 1:g8; sp1 = 2:g8; sp2 = 3:g8; sp3 = 4:g8;\
              out platform:g8:g8; o0 = i0; call {middle:#x};"
        );
        for k in 0..30 {
            text += &format!(" r = r + l{k};");
        }
        text += " ret;";
        let got = r.run(&text, &[val::g8(10)]).or_fail("run");
        let combined = (0x100001 + 10) ^ (2 << 8) ^ (3 << 16) ^ (4 << 24);
        let locals: u64 = (0..30).map(|k| 10 * (k + 2)).sum();
        assert_eq!(got, Some(val::g8(combined + locals)));
    }
);

exec_test!(
    fn call_through_a_register_and_noret(r: &mut Runner) {
        let seen = std::rc::Rc::new(std::cell::Cell::new(0));
        let s = seen.clone();
        let thrower = r
            .host_fn(&[G8], None, move |c| {
                s.set(c.arg(0).bits);
                None
            })
            .or_fail("thrower");
        let double = r
            .host_fn(&[G8], Some(G8), |c| Some(val::g8(c.arg(0).bits * 2)))
            .or_fail("double");
        let slot = r.alloc_words(&[double]).or_fail("slot");
        let text = format!(
            "entry 0:platform:g8:g8; locals 1; jc i0 = 0, fail; \
             ld l0, [{slot:#x}:pint]; out platform:g8:g8; o0 = i0; call l0; ret; \
             :fail; out platform:g8:void; o0 = 0xF00:g8; call.noret {thrower:#x};"
        );
        let stub = r.compile(&text).or_fail("compile");
        let sig = HostSig::new(&[G8], Some(G8));
        assert_eq!(
            r.call(stub, &sig, &[val::g8(21)]).or_fail("call"),
            Some(val::g8(42))
        );
        assert_eq!(seen.get(), 0);
        match r.call(stub, &sig, &[val::g8(0)]) {
            Err(MachineError::Unwound(at)) => assert_eq!(at, thrower),
            other => panic!("call.noret returned: {other:?}"),
        }
        assert_eq!(seen.get(), 0xF00);
    }
);

exec_test!(
    fn extension_feeds_pointer_arithmetic(r: &mut Runner) {
        // sx/zx give pints usable as indexes; the bits above a g4 input are
        // garbage and must not reach the address.
        let table = r.alloc_words(&[10, 20, 30, 40]).or_fail("table");
        let text = "entry 0:platform:pint,g4:g8; locals 1; l0 = zx4 i1; ld r, [i0+l0*8:g8]; ret;";
        for k in 0..4u64 {
            let args = [val::pint(table), val::dirty(G4, k, JUNK_A)];
            let got = r.run(text, &args).or_fail("zx4 index");
            assert_eq!(got, Some(val::g8(10 * (k + 1))));
        }
        let text =
            "entry 0:platform:pint,g2:g8; locals 1; l0 = sx2 i1; ld r, [i0+l0*8+24:g8]; ret;";
        let got = r
            .run(text, &[val::pint(table), val::dirty(G2, 0xFFFF, JUNK_B)])
            .or_fail("sx2 index");
        assert_eq!(got, Some(val::g8(30)), "index -1 from the last element");
    }
);

exec_test!(
    fn cas_keeps_r_and_reads_it(r: &mut Runner) {
        // x86-64's cmpxchg needs rax, where `r` lives: r survives both
        // outcomes, and can itself be the comparand.
        let mut t = Table::new(r);
        let cell = t.r.alloc_words(&[5, 0x5E17]).or_fail("cell");
        let text = "entry 0:platform:pint,g8,g8:g8; r = i2; \
                    cas [i0+0:g8] = i1, i2, fail; r = r + 1; ret; :fail; r = r + 2; ret;";
        t.expect(
            text,
            &[val::pint(cell), val::g8(5), val::g8(40)],
            Some(val::g8(41)),
        );
        t.expect(
            text,
            &[val::pint(cell), val::g8(5), val::g8(40)],
            Some(val::g8(42)),
        );
        let text = "entry 0:platform:pint,g8:g8; ld r, [i0+0:g8]; \
                    cas [i0+0:g8] = r, i1, fail; ret; :fail; r = 0:g8; ret;";
        t.expect(text, &[val::pint(cell), val::g8(77)], Some(val::g8(40)));
        let words = [t.r.read_u64(cell), t.r.read_u64(cell + 8)].map(|w| w.or_fail("read"));
        assert_eq!(words, [77, 0x5E17]);
        t.finish();
    }
);

/// `n` g8 then `n` f8 parameters.
fn wide_params(n: usize) -> Vec<Type> {
    let mut params = vec![G8; n];
    params.extend(vec![F8; n]);
    params
}

fn wide_args(params: &[Type]) -> Vec<Value> {
    params
        .iter()
        .enumerate()
        .map(|(k, t)| match t {
            F8 => Value::f8(-(k as f64) - 0.5),
            _ => val::g8(0x0F0F_0000_0000_0000 + k as u64),
        })
        .collect()
}

exec_test!(
    fn stack_inputs_read_inside_a_framed_stub(r: &mut Runner) {
        // Inputs on the stack are read after push_m2n, alloc and a call.
        let params = wide_params(10);
        let args = wide_args(&params);
        let host = r
            .host_fn(&[G8], Some(G8), |c| Some(val::g8(c.arg(0).bits ^ 0xFF)))
            .or_fail("host");
        let list: Vec<String> = params.iter().map(|t| t.to_string()).collect();
        let out = r.alloc(8, 8).or_fail("out");
        let text = format!(
            "entry 0:platform:{}:f8;
             push_m2n 0;
             locals 2;
             alloc l0, 40;
             st [l0+32:g8], i9;
             out platform:g8:g8;
             o0 = i8;
             call {host:#x};
             l1 = r;
             ld r, [l0+32:g8];
             r = r + l1;
             r = r + i7;
             st [l0+0:g8], r;
             ld l1, [l0+0:g8];
             st [{out:#x}:g8], l1;
             pop_m2n;
             r = i19;
             ret;",
            list.join(","),
        );
        let got = r.run(&text, &args).or_fail("run");
        assert_eq!(got, Some(args[19]), "f8 input 19 (on the stack)");
        let want = args[9]
            .bits
            .wrapping_add(args[8].bits ^ 0xFF)
            .wrapping_add(args[7].bits);
        assert_eq!(r.read_u64(out).or_fail("read"), want);
    }
);

exec_test!(
    fn tailcall_passes_modified_stack_inputs_from_a_framed_stub(r: &mut Runner) {
        let params = wide_params(10);
        let args = wide_args(&params);
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s = seen.clone();
        let n = params.len();
        let host = r
            .host_fn(&params, Some(G8), move |c| {
                s.borrow_mut().extend((0..n).map(|i| c.arg(i)));
                Some(val::g8(0x7A11))
            })
            .or_fail("host");
        let list: Vec<String> = params.iter().map(|t| t.to_string()).collect();
        // 30 locals force a frame; the stub changes a register input, a
        // stack input and a stack float input, then tail calls.
        let mut text = format!("entry 0:platform:{}:g8; locals 30;", list.join(","));
        for k in 0..30 {
            text += &format!(" l{k} = i{} + {k};", k % 10);
        }
        text += " l0 = l0 ^ l29; i1 = l0; i9 = 5:g8; i18 = i11;";
        text += &format!(" tailcall {host:#x};");
        let got = r.run(&text, &args).or_fail("run");
        assert_eq!(got, Some(val::g8(0x7A11)));
        let seen = seen.borrow();
        assert_eq!(seen.len(), n);
        for (k, v) in seen.iter().enumerate() {
            let want = match k {
                1 => val::g8(args[0].bits ^ args[9].bits.wrapping_add(29)),
                9 => val::g8(5),
                18 => args[11],
                _ => args[k],
            };
            assert_eq!(*v, want, "argument {k}");
        }
    }
);

exec_test!(
    fn ts_by_call_keeps_float_and_integer_values(r: &mut Runner) {
        let mut r = Runner::with_ts_call(r.target()).or_fail("runner");
        let text = format!(
            "entry 0:platform:f8,g8,f4:f8; locals 2; l1 = i2; l0 = ts; \
             st [l0+{free}:g8], i1; st [l0+{f4}:f4], l1; r = i0; ret;",
            free = lil_tests::exec::thread_layout::FREE,
            f4 = lil_tests::exec::thread_layout::FREE + 8,
        );
        let args = [Value::f8(6.25), val::g8(0xABCD), Value::f4(-0.5)];
        let got = r.run(&text, &args).or_fail("run");
        assert_eq!(got, Some(args[0]));
        let free = r.thread_field(lil_tests::exec::thread_layout::FREE);
        assert_eq!(r.read_u64(free).or_fail("g8"), 0xABCD);
        assert_eq!(r.read_u32(free + 8).or_fail("f4"), (-0.5f32).to_bits());
    }
);

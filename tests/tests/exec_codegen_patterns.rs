//! The instruction sequences the backends fuse or place specially, run on
//! every target: a load left to the comparison that reads it (x86-64
//! `cmp r, [m]`), neighbouring loads and stores paired (AArch64 `ldp`/`stp`),
//! an extension folded into the addition after it (`add x, x, w, uxtw`),
//! `cas` against zero (`cbnz`), `alloc` addresses recomputed instead of kept
//! across calls, `r` kept in the convention's result register, and the
//! argument registers an `arbitrary` stub borrows while it calls.
//!
//! Each case also has a variant where the fusion must not happen (the value
//! is read again, the base is overwritten, an input is still needed), so a
//! fusion that ignores its conditions fails here.

use std::collections::HashMap;

use lil_machine::{HostSig, Value};
use lil_syntax::Type::{self, F8, G1, G2, G4, G8, Pint};
use lil_syntax::{Predicate, UnaryOp};
use lil_tests::exec::{Expect, Runner, val};
use lil_tests::exec_test;
use lil_tests::semantics::{self, edge_values, mask};

const JUNK: u64 = 0xDEAD_BEEF_CAFE_F00D;

/// Compiles each distinct stub text once and collects failures.
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

    fn expect(&mut self, text: &str, args: &[Value], want: Option<Value>) {
        let (addr, sig) = match self.stubs.get(text) {
            Some(s) => s.clone(),
            None => {
                let at = self
                    .r
                    .compile_full(text)
                    .or_fail(&format!("compile\n{text}\n"));
                let s = (at.addr, at.sig.expect("typed stub"));
                self.stubs.insert(text.to_string(), s.clone());
                s
            }
        };
        self.cases += 1;
        match self.r.call(addr, &sig, args) {
            Ok(got) if got == want => {}
            Ok(got) => self.failures.push(format!(
                "{text}\n  args {args:x?}\n  want {want:x?}\n  got  {got:x?}"
            )),
            Err(e) => self.failures.push(format!("{text}\n  args {args:x?}: {e}")),
        }
    }

    fn finish(self) {
        assert!(self.cases > 0, "the table ran nothing");
        if !self.failures.is_empty() {
            let shown: Vec<&str> = self.failures.iter().take(20).map(String::as_str).collect();
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

fn flag(b: bool) -> Option<Value> {
    Some(val::g4(b.into()))
}

exec_test!(
    fn loads_left_to_the_comparison_that_reads_them(r: &mut Runner) {
        // The loaded word has junk above a g4's width; i1 has junk too.
        let block = r.alloc(32, 16).or_fail("memory");
        let mut t = Table::new(r);
        for ty in [G4, G8] {
            let values = edge_values(ty);
            for pred in Predicate::ALL {
                let p = pred.symbol();
                // The load, an unrelated instruction, the comparison; the
                // loaded value on either side; a variant that reads it again.
                let forms = [
                    format!(
                        "entry 0:platform:pint,{ty}:g4; locals 2; ld l0, [i0+8:{ty}]; \
                         l1 = i0 + 1; jc i1 {p} l0, yes; r = 0:g4; ret; :yes; r = 1:g4; ret;"
                    ),
                    format!(
                        "entry 0:platform:pint,{ty}:g4; locals 1; ld l0, [i0+8:{ty}]; \
                         jc l0 {p} i1, yes; r = 0:g4; ret; :yes; r = 1:g4; ret;"
                    ),
                    format!(
                        "entry 0:platform:pint,{ty}:g4; locals 1; ld l0, [i0+8:{ty}]; \
                         jc l0 {p} i1, yes; jc l0 = i1, yes; r = 0:g4; ret; :yes; r = 1:g4; ret;"
                    ),
                ];
                for &m in &values {
                    let word = if ty == G8 { m } else { m | (JUNK << 32) };
                    for &x in values.iter().step_by(3) {
                        t.r.write_u64(block + 8, word).or_fail("write");
                        let args = [val::pint(block), val::dirty(ty, x, JUNK)];
                        t.expect(&forms[0], &args, flag(semantics::compare(pred, ty, x, m)));
                        t.expect(&forms[1], &args, flag(semantics::compare(pred, ty, m, x)));
                        let again =
                            semantics::compare(pred, ty, m, x) || (m & mask(ty)) == (x & mask(ty));
                        t.expect(&forms[2], &args, flag(again));
                    }
                }
            }
        }
        t.finish();
    }
);

exec_test!(
    fn loads_compared_in_memory_with_immediates(r: &mut Runner) {
        // instanceof's shape: the second load reuses its own base, the
        // class is a 64-bit constant; and a word compared with zero.
        let class = 0x1234_5678_9ABC;
        let vtable = r.alloc_words(&[0, 0, 0, 0, class]).or_fail("vtable");
        let other = r.alloc_words(&[0, 0, 0, 0, class + 8]).or_fail("vtable");
        let object = r.alloc_words(&[vtable]).or_fail("object");
        let stranger = r.alloc_words(&[other]).or_fail("object");
        let mut t = Table::new(r);
        let instanceof = format!(
            "entry 0:managed:ref:g4; locals 1; jc i0 = 0, no; ld l0, [i0+0:pint]; \
             ld l0, [l0+32:pint]; jc l0 != {class:#x}, no; r = 1; ret; :no; r = 0; ret;"
        );
        t.expect(&instanceof, &[val::reference(object)], flag(true));
        t.expect(&instanceof, &[val::reference(stranger)], flag(false));
        t.expect(&instanceof, &[val::reference(0)], flag(false));
        // Zero at 64 and at 32 bits: 2^32 is zero as a g4 only.
        let words = t.r.alloc_words(&[0, 1 << 32, 0]).or_fail("words");
        for (ty, at, zero) in [
            (Pint, 0, true),
            (Pint, 8, false),
            (G4, 8, true),
            (G4, 12, false),
        ] {
            let text = format!(
                "entry 0:platform:pint:g4; locals 1; ld l0, [i0+{at}:{ty}]; \
                 jc l0 = 0, z; r = 0; ret; :z; r = 1; ret;"
            );
            t.expect(&text, &[val::pint(words)], flag(zero));
        }
        t.finish();
    }
);

exec_test!(
    fn neighbouring_loads_and_stores(r: &mut Runner) {
        let target = r.alloc_words(&[0, 42]).or_fail("words");
        let block = r.alloc(64, 16).or_fail("memory");
        let mut t = Table::new(r);
        let reset = |t: &mut Table| {
            let words = [target, 7, 30, 0x4009_21FB_5444_2D18, 0];
            for (k, w) in words.iter().enumerate() {
                t.r.write_u64(block + 8 * k as u64, *w).or_fail("write");
            }
        };
        let p = [val::pint(block)];
        for (text, want) in [
            // Ascending and descending offsets.
            (
                "entry 0:platform:pint:g8; locals 2; ld l0, [i0+8:g8]; ld l1, [i0+16:g8]; \
                 r = l0 - l1; ret;",
                7u64.wrapping_sub(30),
            ),
            (
                "entry 0:platform:pint:g8; locals 2; ld l0, [i0+16:g8]; ld l1, [i0+8:g8]; \
                 r = l0 - l1; ret;",
                23,
            ),
            // `r` loaded first; the input base is read again by the second load.
            (
                "entry 0:platform:pint:g8; locals 1; ld r, [i0+8:g8]; ld l0, [i0+16:g8]; \
                 r = r + l0; ret;",
                37,
            ),
            // The first load overwrites the base: the second uses the new one.
            (
                "entry 0:platform:pint:g8; locals 2; l0 = i0; ld l0, [l0+0:pint]; \
                 ld l1, [l0+8:g8]; r = l1; ret;",
                42,
            ),
        ] {
            reset(&mut t);
            t.expect(text, &p, Some(val::g8(want)));
        }
        // Floats, and stores of a register, zero and floats.
        reset(&mut t);
        let f = "entry 0:platform:pint:f8; locals 1; ld l0, [i0+16:f8]; ld r, [i0+24:f8]; \
                 st [i0+32:f8], l0; ret;";
        t.expect(f, &p, Some(Value::f8(std::f64::consts::PI)));
        let stored = t.r.read_u64(block + 32).or_fail("read");
        assert_eq!(stored, 30, "the float pair's first value");
        let s = "entry 0:platform:pint,g8,f8,f8:void; st [i0+8:g8], i1; st [i0+0:g8], 0; \
                 st [i0+24:f8], i3; st [i0+16:f8], i2; ret;";
        t.expect(
            s,
            &[
                val::pint(block),
                val::g8(99),
                Value::f8(1.5),
                Value::f8(-2.0),
            ],
            None,
        );
        let words: Vec<u64> = (0..4)
            .map(|k| t.r.read_u64(block + 8 * k).or_fail("read"))
            .collect();
        assert_eq!(
            words,
            [0, 99, 1.5f64.to_bits(), (-2.0f64).to_bits()],
            "paired stores"
        );
        // Stores and loads through an alloc'ed block.
        let a = "entry 0:platform:g8,g8:g8; locals 2; alloc l0, 16; st [l0+0:g8], i0; \
                 st [l0+8:g8], i1; ld r, [l0+0:g8]; ld l1, [l0+8:g8]; r = r - l1; ret;";
        t.expect(a, &[val::g8(50), val::g8(8)], Some(val::g8(42)));
        t.finish();
    }
);

exec_test!(
    fn extensions_folded_into_additions(r: &mut Runner) {
        let mut t = Table::new(r);
        let exts = [
            (UnaryOp::Sx1, G1),
            (UnaryOp::Sx2, G2),
            (UnaryOp::Sx4, G4),
            (UnaryOp::Zx1, G1),
            (UnaryOp::Zx2, G2),
            (UnaryOp::Zx4, G4),
        ];
        for (uop, ty) in exts {
            let op = uop.keyword();
            let forms = [
                format!(
                    "entry 0:platform:pint,{ty}:pint; locals 1; l0 = {op} i1; r = i0 + l0; ret;"
                ),
                format!(
                    "entry 0:platform:pint,{ty}:pint; locals 1; l0 = {op} i1; r = l0 + i0; ret;"
                ),
                format!(
                    "entry 0:platform:pint,{ty}:pint; locals 1; l0 = {op} i1; r = i0 - l0; ret;"
                ),
                format!(
                    "entry 0:platform:pint,{ty}:pint; locals 1; l0 = {op} i1; l0 = i0 + l0; r = l0; ret;"
                ),
                // Read again: the extension must stay.
                format!(
                    "entry 0:platform:pint,{ty}:pint; locals 1; l0 = {op} i1; r = i0 + l0; \
                     r = r + l0; ret;"
                ),
            ];
            for &x in &edge_values(ty) {
                for a in [0u64, 1, 0x8000_0000_0000_0000, u64::MAX] {
                    let e = semantics::unary(uop, ty, x).1;
                    let args = [val::pint(a), val::dirty(ty, x, JUNK)];
                    let want = [
                        a.wrapping_add(e),
                        a.wrapping_add(e),
                        a.wrapping_sub(e),
                        a.wrapping_add(e),
                        a.wrapping_add(e).wrapping_add(e),
                    ];
                    for (text, w) in forms.iter().zip(want) {
                        t.expect(text, &args, Some(val::pint(w)));
                    }
                }
            }
        }
        t.finish();
    }
);

exec_test!(
    fn cas_against_zero(r: &mut Runner) {
        let block = r.alloc(16, 16).or_fail("memory");
        let mut t = Table::new(r);
        for ty in [G1, G2, G4, G8] {
            let n = ty.size() as usize;
            let text = format!(
                "entry 0:platform:pint,{ty}:g4; cas [i0+0:{ty}] = 0, i1, busy; r = 1; ret; \
                 :busy; r = 0; ret;"
            );
            // Zero at the access width (with junk above it), then not zero.
            let mut cases = vec![(0u64, true), (5, false)];
            if n < 8 {
                cases.push((JUNK << (8 * n), true));
            }
            for (before, swapped) in cases {
                t.r.write_u64(block, before).or_fail("write");
                t.r.write_u64(block + 8, 0).or_fail("write");
                let src = 0x5A5A_5A5A_5A5A_5A5A & mask(ty);
                t.expect(
                    &text,
                    &[val::pint(block), val::dirty(ty, src, JUNK)],
                    flag(swapped),
                );
                let after = t.r.read_u64(block).or_fail("read");
                let want = if swapped {
                    (before & !mask(ty)) | src
                } else {
                    before
                };
                assert_eq!(after, want, "{text} on {before:#x}");
            }
        }
        t.finish();
    }
);

exec_test!(
    fn alloc_addresses_recomputed_across_calls(r: &mut Runner) {
        // The host sums the two words at the address it is given (in the
        // stub's frame) and clobbers every caller-saved register doing so.
        let target = r.target();
        let sum = r
            .host_fn(&[Pint], Some(G8), move |c| {
                let at = c.arg(0).bits;
                let mut memory = lil_tests::exec::HostMemory::for_target(c, target);
                let (a, b) = (memory.read(at).ok()?, memory.read(at + 8).ok()?);
                Some(val::g8(a.wrapping_add(b)))
            })
            .or_fail("host");
        let nothing = r.host_fn(&[], None, |_| Some(val::g8(0))).or_fail("host");
        let mut t = Table::new(r);
        let texts = [
            format!(
                "entry 0:platform:g8,g8:g8; locals 2; alloc l0, 16; st [l0+0:g8], i0; \
                 st [l0+8:g8], i1; out platform:pint:g8; o0 = l0; call {sum:#x}; l1 = r; \
                 out platform::void; call {nothing:#x}; ld r, [l0+8:g8]; r = r + l1; ret;"
            ),
            // Through a copy, and an address reached by two paths.
            format!(
                "entry 0:platform:g8,g8:g8; locals 2; jc i0 = 0, a; alloc l0, 16; j b; :a; \
                 alloc l0, 16; :b; l1 = l0; st [l1+0:g8], i0; st [l1+8:g8], i1; \
                 out platform::void; call {nothing:#x}; out platform:pint:g8; o0 = l1; \
                 call {sum:#x}; ld l1, [l0+0:g8]; r = r + l1; ret;"
            ),
        ];
        for (a, b) in [(0u64, 5u64), (7, 35), (u64::MAX, 2)] {
            let want0 = b.wrapping_add(a.wrapping_add(b));
            let want1 = a.wrapping_add(b).wrapping_add(a);
            t.expect(&texts[0], &[val::g8(a), val::g8(b)], Some(val::g8(want0)));
            t.expect(&texts[1], &[val::g8(a), val::g8(b)], Some(val::g8(want1)));
        }
        t.finish();
    }
);

exec_test!(
    fn r_beside_inputs_and_outputs_in_the_result_register(r: &mut Runner) {
        let pair = r
            .host_fn(&[G8, G8], Some(G8), |c| {
                Some(val::g8(
                    c.arg(0).bits.wrapping_mul(1000).wrapping_add(c.arg(1).bits),
                ))
            })
            .or_fail("host");
        let fpair = r
            .host_fn(&[F8, F8], Some(F8), |c| {
                Some(Value::f8(c.arg(0).as_f64() * 1000.0 + c.arg(1).as_f64()))
            })
            .or_fail("host");
        let sum = r
            .compile("entry 0:platform:g8,g8:g8; r = i0 - i1; ret;")
            .or_fail("tail");
        let mut t = Table::new(r);
        let (x, y) = (val::g8(3), val::g8(4));
        for (text, want) in [
            // `r` is live while o0 (the result register) is written.
            (
                format!(
                    "entry 0:platform:g8,g8:g8; r = i1; out platform:g8,g8:g8; o0 = i0; \
                     o1 = r; call {pair:#x}; ret;"
                ),
                3004,
            ),
            // `r` written while i0 (in the result register) is still to be read.
            (
                "entry 0:platform:g8,g8:g8; r = i1; r = r + i0; ret;".into(),
                7,
            ),
            (
                "entry 0:platform:g8,g8:g8; r = i1; jc i0 = 0, z; r = i0; :z; ret;".into(),
                3,
            ),
            // An input written while `r` is live.
            (
                "entry 0:platform:g8,g8:g8; r = i1; i0 = 5; r = r + i0; ret;".into(),
                9,
            ),
            // `tailcall` passes the inputs on after `r` was written.
            (
                format!("entry 0:platform:g8,g8:g8; r = i1; tailcall {sum:#x};"),
                u64::MAX,
            ),
        ] {
            t.expect(&text, &[x, y], Some(val::g8(want)));
        }
        let f = format!(
            "entry 0:platform:f8,f8:f8; r = i1; out platform:f8,f8:f8; o0 = i0; o1 = r; \
             call {fpair:#x}; ret;"
        );
        t.expect(
            &f,
            &[Value::f8(3.0), Value::f8(4.0)],
            Some(Value::f8(3004.0)),
        );
        t.finish();
    }
);

exec_test!(
    fn arbitrary_stub_borrowing_argument_registers(r: &mut Runner) {
        // The final callee checks every argument register the stub had to
        // pass on after calling: six integers and eight floats.
        let mut params = vec![G8; 6];
        params.extend([F8; 8]);
        let target = r
            .host_fn(&params, Some(G8), |c| {
                let ints = (0..6).fold(0u64, |s, k| s.wrapping_mul(31).wrapping_add(c.arg(k).bits));
                let floats = (6..14).fold(0.0, |s, k| s * 2.0 + c.arg(k).as_f64());
                Some(val::g8(ints.wrapping_add(floats as u64)))
            })
            .or_fail("host");
        let resolve = r
            .host_fn(&[Pint], Some(Pint), |c| Some(val::pint(c.arg(0).bits)))
            .or_fail("host");
        let text = format!(
            "entry 1:managed:arbitrary; locals 1; out platform:pint:pint; o0 = sp0; \
             call {resolve:#x}; l0 = r; tailcall l0;"
        );
        let arbitrary = r.compile(text.as_str()).or_fail("arbitrary");
        let list: Vec<String> = params.iter().map(Type::to_string).collect();
        let entry = format!(
            "entry 0:managed:{}:g8; std_places 1; sp0 = {target:#x}; tailcall {arbitrary:#x};",
            list.join(",")
        );
        let args: Vec<Value> = (0..6)
            .map(|k| val::g8(0x1111 * (k + 1)))
            .chain((0..8).map(|k| Value::f8(k as f64 + 0.5)))
            .collect();
        let ints = (0..6).fold(0u64, |s, k| {
            s.wrapping_mul(31).wrapping_add(0x1111 * (k + 1))
        });
        let floats = (0..8).fold(0.0, |s, k| s * 2.0 + (k as f64 + 0.5));
        let got = r.run(entry.as_str(), &args).or_fail("run");
        assert_eq!(got, Some(val::g8(ints.wrapping_add(floats as u64))));
    }
);

/// `cas` on a CPU with LSE atomics (`casal`; against zero, `cbnz` after it).
/// The suite's emulator is a Cortex-A72 without LSE, so this path runs here
/// only, on a second emulator with QEMU's `max` CPU.
#[cfg(feature = "emulator")]
#[test]
fn cas_with_lse_atomics() {
    use lil_codegen::{Backend, HostEnv, ThreadPointer};
    use lil_machine::Machine;
    let mut m = lil_emu::Arm64Emulator::builder()
        .with_lse(true)
        .build()
        .or_fail("emulator");
    let mut env = HostEnv::new(ThreadPointer::TlsSlot { offset: 0 }, 0);
    env.lse_atomics = true;
    let block = m.alloc(16, 16).or_fail("memory");
    for ty in [G1, G2, G4, G8] {
        let n = ty.size() as usize;
        for cmp in ["0", "i2"] {
            let text = format!(
                "entry 0:platform:pint,{ty},{ty}:g4; cas [i0+0:{ty}] = {cmp}, i1, busy; \
                 r = 1; ret; :busy; r = 0; ret;"
            );
            let stub = lil_check::assert_valid(&text);
            let code = lil_codegen_arm64::Arm64Backend
                .compile(&stub, &env)
                .or_fail("compile");
            let f = m.install(&code.code).or_fail("install");
            let sig = HostSig::new(&[Pint, ty, ty], Some(G4));
            let expected = 0x77 & mask(ty);
            let mut cases = vec![(0u64, cmp == "0"), (expected, cmp != "0"), (5, false)];
            if n < 8 {
                // Equal at the access width, junk above it.
                cases.push((JUNK << (8 * n), cmp == "0"));
            }
            for (before, swapped) in cases {
                m.write_u64(block, before).or_fail("write");
                let src = 0x5A5A_5A5A_5A5A_5A5A & mask(ty);
                let args = [
                    val::pint(block),
                    val::dirty(ty, src, JUNK),
                    val::dirty(ty, expected, JUNK),
                ];
                let got = m.call(f, &sig, &args).or_fail("call");
                assert_eq!(got, flag(swapped), "{text} on {before:#x}");
                let after = m.read_u64(block).or_fail("read");
                let want = if swapped {
                    (before & !mask(ty)) | src
                } else {
                    before
                };
                assert_eq!(after, want, "{text} on {before:#x}");
            }
        }
    }
}

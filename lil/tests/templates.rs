//! Templates behave exactly like stubs compiled with the same constants, on
//! both targets: for random hole values, the instance and a full compile of
//! the stub built with those values compute the same result and leave the
//! same memory. x86-64 code runs natively (on an x86-64 host), AArch64 code
//! under the emulator.

use lil::template::{Hole, Template, TemplateError};
use lil::{Error, HostEnv, Target};
use lil_emu::Arm64Emulator;
use lil_machine::{HostSig, Machine, Value};
use lil_syntax::Arg;
use lil_syntax::Type::{self, G4, G8, Pint};
use proptest::prelude::*;

/// A stub with holes, how to call it, and what its holes are.
struct Case {
    text: &'static str,
    holes: &'static [Hole],
    params: &'static [Type],
    ret: Option<Type>,
}

/// Offsets: one hole written at two sites; 64-bit compare and add.
const OFFSETS: Case = Case {
    text: "entry 0:platform:pint,g8:g8;
           locals 1;
           ld l0, [i0+%0i:g8];
           st [i0+%0i:g8], i1;
           jc l0 = %1i, same;
           r = l0 + %2i;
           ret;
           :same;
           r = %1i;
           ret;",
    holes: &[Hole::Offset, Hole::Word, Hole::Word],
    params: &[Pint, G8],
    ret: Some(G8),
};

/// 32-bit immediates in compares, subtraction and multiplication.
const IMM32: Case = Case {
    text: "entry 0:platform:g4:g4;
           jc i0 <u %0i, low;
           r = i0 - %1i;
           ret;
           :low;
           r = i0 * %1i;
           ret;",
    holes: &[Hole::Imm32, Hole::Imm32],
    params: &[G4],
    ret: Some(G4),
};

/// Immediates stored to memory at offsets, with a subtraction by a word.
const STORES: Case = Case {
    text: "entry 0:platform:pint,g8:g8;
           st [i0+%0i:g4], %1i;
           st [i0+%2i:pint], %3i;
           r = i1 - %3i;
           ret;",
    holes: &[Hole::Offset, Hole::Imm32, Hole::Offset, Hole::Word],
    params: &[Pint, G8],
    ret: Some(G8),
};

const CASES: [&Case; 3] = [&OFFSETS, &IMM32, &STORES];

/// The full compile of `case` with `values` in its holes, the normal way.
fn direct(target: Target, case: &Case, values: &[i64]) -> Result<Vec<u8>, Error> {
    let args: Vec<Arg<'_>> = values.iter().map(|&v| Arg::int(v)).collect();
    let stub = lil_syntax::parse_with(case.text, &args)?;
    let checked = lil_check::check_owned(stub)?;
    Ok(lil::compile_checked_for(target, &checked, &HostEnv::default())?.code)
}

/// Run `code` on `m` with a 64-byte zeroed buffer. Offsets are arbitrary
/// i32s, so the pointer argument is the buffer minus the case's offsets,
/// arranged so every access lands in the buffer: offset hole k addresses
/// byte 16*k.
fn run(
    m: &mut dyn Machine,
    code: &[u8],
    case: &Case,
    values: &[i64],
    arg: u64,
) -> (Option<Value>, Vec<u8>) {
    let buf = m.alloc(64, 16).expect("a buffer");
    let offsets: Vec<(usize, i64)> = case
        .holes
        .iter()
        .zip(values)
        .filter(|(h, _)| **h == Hole::Offset)
        .map(|(_, &v)| v)
        .enumerate()
        .collect();
    // Each case uses one pointer, so all its offsets must address the
    // buffer relative to the same base: base = buf + 16*k - offset_k for
    // every k. Cases with two offsets get the second offset derived from
    // the first (see `values_for`).
    let base = offsets
        .first()
        .map_or(buf, |&(_, off)| buf.wrapping_sub(off as u64));
    let f = m.install(code).expect("install");
    let sig = HostSig::new(case.params, case.ret);
    let args: Vec<Value> = case
        .params
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            if k == 0 && t == Pint {
                Value::pint(base)
            } else {
                Value::int(t, arg)
            }
        })
        .collect();
    let result = m.call(f, &sig, &args).expect("the stub runs");
    let mut memory = vec![0; 64];
    m.read(buf, &mut memory).expect("read back");
    (result.map(Value::normalized), memory)
}

/// Hole values from random draws: offsets are related so that every
/// access of a case lands in its buffer (the second offset is the first
/// plus 16).
fn values_for(case: &Case, draws: &[i64]) -> Vec<i64> {
    let mut first_offset = None;
    case.holes
        .iter()
        .zip(draws)
        .map(|(h, &d)| match h {
            Hole::Offset => match first_offset {
                None => {
                    let v = d as i32 as i64;
                    // Keep room for +16 without overflowing i32.
                    let v = v.clamp(i64::from(i32::MIN), i64::from(i32::MAX) - 16);
                    first_offset = Some(v);
                    v
                }
                Some(f) => f + 16,
            },
            Hole::Imm32 => d & 0xffff_ffff,
            Hole::Word => d,
        })
        .collect()
}

fn machine(target: Target) -> Option<Box<dyn Machine>> {
    match target {
        Target::Arm64 => Some(Box::new(Arm64Emulator::new().expect("the emulator"))),
        Target::X64 if cfg!(target_arch = "x86_64") => Some(Box::new(
            lil_machine::native::NativeMachine::new().expect("a native machine"),
        )),
        Target::X64 => None,
    }
}

fn check_case(target: Target, case: &Case, template: &Template, draws: &[i64], arg: u64) {
    let values = values_for(case, draws);
    let instance = template.instantiate(&values).expect("instantiates");
    let full = direct(target, case, &values).expect("compiles");
    let Some(mut m) = machine(target) else { return };
    let from_template = run(m.as_mut(), &instance.code, case, &values, arg);
    let from_compile = run(m.as_mut(), &full, case, &values, arg);
    assert_eq!(
        from_template, from_compile,
        "{target}: values {values:?}, argument {arg:#x}\n{}",
        case.text
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn instances_match_full_compiles(
        draws in prop::collection::vec(any::<i64>(), 4),
        small in prop::collection::vec(-300i64..300, 4),
        use_small in any::<bool>(),
        arg in any::<u64>(),
    ) {
        let draws = if use_small { &small } else { &draws };
        for target in [Target::X64, Target::Arm64] {
            for case in CASES {
                let template =
                    Template::from_text(target, &HostEnv::default(), case.text, case.holes)
                        .unwrap_or_else(|e| panic!("{target}: {e}\n{}", case.text));
                check_case(target, case, &template, draws, arg);
            }
        }
    }
}

#[test]
fn a_call_target_and_its_arguments_can_be_holes() {
    let text = "entry 0:platform:g8:g8;
                out platform:g8,g8:g8;
                o0 = i0;
                o1 = %1i;
                call %0i;
                r = r + %1i;
                ret;";
    for target in [Target::X64, Target::Arm64] {
        let Some(mut m) = machine(target) else {
            continue;
        };
        let sig = HostSig::new(&[G8, G8], Some(G8));
        let host = m
            .host_fn(
                sig,
                Box::new(|c| {
                    Some(Value::int(
                        G8,
                        c.arg(0).bits.wrapping_mul(2).wrapping_add(c.arg(1).bits),
                    ))
                }),
            )
            .expect("a host function");
        let t = Template::from_text(target, &HostEnv::default(), text, &[Hole::Word, Hole::Word])
            .expect("a template");
        for k in [0i64, 1, -7, 1 << 40] {
            let code = t.instantiate(&[host as i64, k]).expect("instantiates");
            let f = m.install(&code.code).expect("install");
            let r = m
                .call(f, &HostSig::new(&[G8], Some(G8)), &[Value::int(G8, 10)])
                .expect("runs");
            assert_eq!(
                r,
                Some(Value::int(G8, 20i64.wrapping_add(2 * k) as u64)),
                "{target}, k = {k}"
            );
        }
    }
}

#[test]
fn instances_are_checked_against_their_holes() {
    let t = Template::from_text(
        Target::X64,
        &HostEnv::default(),
        "entry 0:platform:pint:g4; ld r, [i0+%0i:g4]; ret;",
        &[Hole::Offset],
    )
    .unwrap();
    assert_eq!(t.site_count(), 1);
    let err = t.instantiate(&[1 << 40]).unwrap_err();
    assert!(matches!(
        err,
        Error::Template(TemplateError::OutOfRange { hole: 0, .. })
    ));
    assert_eq!(err.codes(), ["E0505"]);
    let err = t.instantiate(&[1, 2]).unwrap_err();
    assert!(matches!(
        err,
        Error::Template(TemplateError::Arity {
            expected: 1,
            got: 2
        })
    ));
}

#[test]
fn templates_without_holes_and_holes_that_shape_the_stub() {
    for target in [Target::X64, Target::Arm64] {
        let t = Template::from_text(
            target,
            &HostEnv::default(),
            "entry 0:platform:g8:g8; r = i0 + 1; r = r + 2; ret;",
            &[],
        )
        .expect("a template without holes is a plain copy");
        assert_eq!(t.site_count(), 0);
        assert_eq!(
            t.instantiate(&[]).unwrap().code,
            lil::compile_for(
                target,
                "entry 0:platform:g8:g8; r = i0 + 1; r = r + 2; ret;",
                &HostEnv::default()
            )
            .unwrap()
            .code
        );
        // A hole used as an `alloc` size shapes the frame: the sentinels are
        // refused before any code is compared.
        let err = Template::from_text(
            target,
            &HostEnv::default(),
            "entry 0:platform::void; locals 1; alloc l0, %0i; ret;",
            &[Hole::Offset],
        )
        .unwrap_err();
        assert!(!err.codes().is_empty(), "{target}: {err:?}");
    }
}

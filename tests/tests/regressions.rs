//! Counterexamples the differential tests and fuzzers found, shrunk by
//! hand, each a named test run on every target.

use lil_syntax::Type;
use lil_tests::differential::{Case, compare};
use lil_tests::exec::{Expect, Target, val};

const TARGETS: [Target; 3] = [Target::Eval, Target::X64, Target::Arm64];

/// A case around `main` (parameter `i0`, the buffer) with the default tail
/// stub and a zeroed buffer and thread area.
fn case(main: &str) -> Case {
    Case {
        main: main.to_owned(),
        tail: "entry 2:platform:pint:void;\nret;\n".to_owned(),
        params: vec![Type::Pint],
        ret: None,
        args: vec![0],
        buffer: vec![0; 256],
        thread: vec![0; 64],
        ts_by_call: false,
    }
}

fn agree(main: &str) {
    if let Err(report) = compare(&case(main), &TARGETS) {
        panic!("{report}");
    }
}

/// Fuzzer `differential`, crash-60d15756: the walk from `h_walk` saw no
/// frame on x86-64. Not a code generation bug: the harness found the native
/// stack's bounds from the address of an immutable local, which the
/// optimised fuzz build placed in the binary, so every read of the (real,
/// correct) M2N frame on the stack was refused. The case, and a smaller
/// one, stay here as checks of `push_m2n … handles` / `handles =` /
/// `m2n_save_all` under a walk.
#[test]
fn stack_walk_inside_a_handles_frame_after_m2n_save_all() {
    let mut c = case(
        r"entry 0:platform:pint:void;
locals 15;
l0 = i0;
l1 = i0 + 128;
l2 = ts;
l7 = 0xb:g1;
ld l8, [l1-128:g2];
l9 = 0xb:g4;
l10 = 0xb:g8;
l11 = 0xb:pint;
l12 = 0xb:ref;
ld l13, [l1-120:f4];
ld l14, [l1-40:f8];
push_m2n l11, handles;
alloc l3, 32;
st [l3+0:g8], 0x0:g8;
st [l3+8:g8], 0x0:g8;
st [l3+16:g8], 0x0:g8;
st [l3+24:g8], 0x0:g8;
handles = l3;
handles = 0x0:pint;
m2n_save_all;
out platform::g8;
call @h_walk@;
l10 = r;
pop_m2n;
ret;",
    );
    c.tail = r"entry 2:platform:pint:void;
st [i0+240:pint], sp0;
st [i0+248:pint], sp1;
ret;"
        .to_owned();
    if let Err(report) = compare(&c, &TARGETS) {
        panic!("{report}");
    }
    agree(
        "entry 0:platform:pint:void;
         locals 2;
         l0 = 0xb:pint;
         push_m2n l0, handles;
         alloc l1, 32;
         st [l1+0:g8], 0x0:g8;
         handles = l1;
         handles = 0x0:pint;
         m2n_save_all;
         out platform::g8;
         call @h_walk@;
         pop_m2n;
         ret;",
    );
}

/// The fallback the native stack walk reads frames through covers the
/// stack of the calling code (see the test above).
#[test]
fn native_stack_bounds_cover_the_callers_frame() {
    let mut local = [0u64; 4];
    let at = std::hint::black_box(&mut local).as_ptr() as u64;
    let (start, end) = lil_tests::exec::native_stack_bounds().expect("a stack mapping");
    assert!(
        (start..end).contains(&at),
        "{at:#x} outside {start:#x}..{end:#x}"
    );
}

lil_tests::exec_test!(
    /// The rule 95b6f4c aligned the interpreter with (LANGUAGE.md,
    /// "Immediates"): the untyped immediate of a unary operation is a
    /// `pint`, on every target. (The stubs that exposed it were lost; this
    /// pins the rule down rather than replaying them.)
    fn unary_operations_on_untyped_immediates_compute_on_a_pint(r: &mut Runner) {
        for (op, want) in [
            ("neg 5", (-5i64) as u64),
            ("not 0", u64::MAX),
            ("sx1 0xff", u64::MAX),
            ("zx1 0x1ff", 0xff),
            ("sx4 0x80000000", 0xffff_ffff_8000_0000),
            ("zx2 -1", 0xffff),
        ] {
            let text = format!("entry 0:platform::g8; locals 1; l0 = {op}; r = l0:g8; ret;");
            let got = r.run(lil_check::assert_valid(&text), &[]).or_fail(&text);
            assert_eq!(got, Some(val::g8(want)), "{text}");
        }
        // A truncation's operand too: a `pint`, so `0x1ff` is accepted and
        // cut to the result's width.
        for (op, ty, want) in [
            ("tr1 0x1ff", Type::G1, 0xff),
            ("tr2 0x1ffff", Type::G2, 0xffff),
            ("tr4 0x1ffffffff", Type::G4, 0xffff_ffff),
        ] {
            let text = format!("entry 0:platform::{ty}; locals 1; l0 = {op}; r = l0; ret;");
            let got = r.run(lil_check::assert_valid(&text), &[]).or_fail(&text);
            assert_eq!(got, Some(val::g(ty, want)), "{text}");
        }
    }
);

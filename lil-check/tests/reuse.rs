//! A [`lil_check::Checker`] reused across stubs gives exactly
//! `check_owned`'s answer, whatever it checked before: valid stubs and
//! invalid ones, forward and looping, small frames and large ones (locals
//! in the arena, labels and liveness sets beyond what fits on the stack),
//! with or without the checked stubs recycled into it.

use std::fmt::Write as _;

use lil_check::Checker;

/// Stubs that take every path through the checker's buffers.
fn stubs() -> Vec<String> {
    let mut texts: Vec<String> = [
        // Figure 1: a join, an M2N frame, a signature from `in2out`.
        "entry 0:managed:g4,pint:ref; locals 3; l0 = ts; ld r, [l0+16:ref];
         ld l1, [l0+24:pint]; l2 = zx4 i0; l2 = r:pint + l2; jc l2 >u l1, slow;
         st [r+0:pint], i1; st [l0+16:pint], l2; ret;
         :slow; push_m2n 0; in2out platform:ref; call 0x1000; pop_m2n; ret;",
        // Locals live across calls, two signatures.
        "entry 0:platform:pint:pint; locals 2; l0 = i0; out platform:pint:pint;
         o0 = l0; call 0x10; l1 = r; out platform:pint,pint:pint; o0 = l0; o1 = l1;
         call 0x20; ret;",
        // Invalid: errors on the one-pass path's fall back.
        "entry 0:platform::g4; r = 5; l0 = r; ret;",
        "entry 0:platform:pint:pint; locals 1; jc i0 = 0, nowhere; r = l0; ret;",
        "entry 0:platform:pint:pint; out platform:pint:pint; call 0x10; r = 1;",
        // A loop: the general path with a fixpoint.
        "entry 0:platform:pint,pint:pint; locals 3; l0 = i0; l1 = 0; :top;
         l2 = l1 + 1; l1 = l2; out platform:pint:void; o0 = l1; call 0x30;
         jc l1 <u l0, top; r = l1; ret;",
        // Unreachable code: a warning, from the general path.
        "entry 0:platform::void; ret; ret;",
        // A valid stub with a warning (a local never read).
        "entry 0:platform::void; locals 1; l0 = 1; ret;",
    ]
    .map(str::to_owned)
    .into();
    // Many locals (contexts in the arena) live across calls in many
    // blocks (liveness sets on the heap), and many labels.
    let mut large = String::from("entry 0:platform:pint:pint; locals 12;\n");
    for k in 0..12 {
        let _ = writeln!(large, "l{k} = i0;");
    }
    for k in 0..12 {
        let _ = writeln!(
            large,
            "jc l{k} = 0, L{k}; out platform:pint:void; o0 = l{k}; call 0x40; :L{k};"
        );
    }
    large.push_str("r = l0 + l11; ret;\n");
    texts.push(large.clone());
    // The same with a loop, and with an error.
    texts.push(large.replace("r = l0 + l11;", ":back; r = l0 + l11; jc r = 0, back;"));
    texts.push(large.replace("r = l0 + l11;", "r = l0 + l12;"));
    texts
}

fn answer(result: &Result<lil_check::CheckedStub, lil_check::Diagnostics>) -> String {
    // `Debug` shows the facts behind every answer of the API.
    format!("{result:?}")
}

#[test]
fn a_reused_checker_answers_as_check_owned() {
    let texts = stubs();
    let mut checker = Checker::new();
    // Every order of two passes over the stubs: after each stub, each other.
    for round in 0..3 {
        for (i, text) in texts.iter().enumerate() {
            let stub = lil_syntax::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let expected = lil_check::check_owned(stub.clone());
            let got = checker.check(stub.clone());
            assert_eq!(answer(&got), answer(&expected), "round {round}, stub {i}");
            // Recycle this checker's result, `check_owned`'s, or neither.
            match (round + i) % 3 {
                0 => {
                    if let Ok(c) = got {
                        assert_eq!(checker.recycle(c), stub);
                    }
                }
                1 => {
                    if let Ok(c) = expected {
                        assert_eq!(checker.recycle(c), stub);
                    }
                }
                _ => {}
            }
        }
    }
}

//! For every checker rule: one stub it accepts and one it rejects with the
//! rule's code. The pairs differ as little as possible, so each shows the
//! line the rule draws.

use lil_check::{assert_invalid, assert_valid, check};

/// (rule code, accepted stub, rejected stub, every error code the rejected one gets)
const RULES: &[(&str, &str, &str, &[&str])] = &[
    (
        "E0201",
        "entry 0:platform::void; j a; :a; ret;",
        "entry 0:platform::void; j a; :a; :a; ret;",
        &["E0201"],
    ),
    (
        "E0202",
        "entry 0:platform::void; j a; :a; ret;",
        "entry 0:platform::void; j b; :a; ret;",
        &["E0202"],
    ),
    (
        "E0203",
        "entry 0:platform:pint:void; jc i0=0,a; :a; ret;",
        "entry 0:platform:pint:void; ret; :a; jc i0=0,a;",
        &["E0203"],
    ),
    (
        "E0204",
        "entry 0:platform:pint:pint; r = i0; ret;",
        "entry 0:platform:pint:pint; r = i1; ret;",
        &["E0204"],
    ),
    (
        "E0205",
        "entry 1:managed:arbitrary; tailcall sp0;",
        "entry 1:managed:arbitrary; sp0 = i0; tailcall sp0;",
        &["E0205"],
    ),
    (
        "E0206",
        "entry 1:managed:arbitrary; tailcall sp0;",
        "entry 1:managed:arbitrary; ret;",
        &["E0206"],
    ),
    (
        "E0207",
        "entry 0:platform:g4:g4; jc i0=0,z; r = i0; ret; :z; r = 1; ret;",
        "entry 0:platform:g4:g4; jc i0=0,z; r = i0; :z; ret;",
        &["E0207"],
    ),
    (
        "E0208",
        "entry 0:platform::void; push_m2n 0; pop_m2n; ret;",
        "entry 0:platform::void; push_m2n 0; ret;",
        &["E0208"],
    ),
    (
        "E0209",
        "entry 0:platform::void; out platform::void; call 0x1000; ret;",
        "entry 0:platform::void; call 0x1000; ret;",
        &["E0209"],
    ),
    (
        "E0210",
        "entry 0:platform::void; out platform:pint:void; o0 = 1; call 0x1000; ret;",
        "entry 0:platform::void; o0 = 1; out platform:pint:void; o0 = 1; call 0x1000; ret;",
        &["E0210"],
    ),
    (
        "E0211",
        "entry 0:platform::void; out platform:pint:void; o0 = 1; call 0x1000; ret;",
        "entry 0:platform::void; out platform:pint:void; o0 = 1; o1 = 2; call 0x1000; ret;",
        &["E0211"],
    ),
    (
        "E0212",
        "entry 0:platform:pint:void; out platform:pint,pint:void; o0 = i0; o1 = 2; call 0x1000; ret;",
        "entry 0:platform:pint:void; out platform:pint,pint:void; o0 = i0; jc i0=0,skip; o1 = 2; :skip; call 0x1000; ret;",
        &["E0212"],
    ),
    (
        "E0213",
        "entry 0:platform::void; locals 1; out platform:pint:void; o0 = 1; l0 = o0; call l0; ret;",
        "entry 0:platform::void; locals 1; out platform:pint:void; l0 = o0; o0 = 1; call l0; ret;",
        &["E0213"],
    ),
    (
        "E0214",
        "entry 0:managed:pint:void; in2out platform:void; call 0x1000; ret;",
        "entry 0:managed:arbitrary; in2out platform:void; call.noret 0x1000;",
        &["E0214"],
    ),
    (
        "E0215",
        "entry 0:platform::void; locals 1; alloc l0, 8; out platform:pint:void; o0 = l0; call 0x1000; ret;",
        "entry 0:platform::void; locals 1; out platform:pint:void; alloc l0, 8; o0 = l0; call 0x1000; ret;",
        &["E0215"],
    ),
    (
        "E0216",
        "entry 0:platform::void; locals 1; push_m2n 0; alloc l0, 8; st [l0+0:pint], 0; pop_m2n; ret;",
        "entry 0:platform::void; locals 1; alloc l0, 8; push_m2n 0; st [l0+0:pint], 0; pop_m2n; ret;",
        &["E0216"],
    ),
    (
        "E0217",
        "entry 0:platform::void; push_m2n 0; pop_m2n; ret;",
        "entry 0:platform::void; push_m2n 0; push_m2n 0; pop_m2n; ret;",
        &["E0217"],
    ),
    (
        "E0218",
        "entry 0:platform::void; push_m2n 0; m2n_save_all; pop_m2n; ret;",
        "entry 0:platform::void; m2n_save_all; pop_m2n; ret;",
        &["E0218", "E0218"],
    ),
    (
        "E0219",
        "entry 0:platform::void; locals 1; push_m2n 0, handles; alloc l0, 16; handles = l0; pop_m2n; ret;",
        "entry 0:platform::void; locals 1; push_m2n 0; alloc l0, 16; handles = l0; pop_m2n; ret;",
        &["E0219"],
    ),
    (
        "E0220",
        "entry 0:platform::void; push_m2n 0; pop_m2n; tailcall 0x1000;",
        "entry 0:platform::void; push_m2n 0; tailcall 0x1000;",
        &["E0220"],
    ),
    (
        "E0221",
        "entry 1:platform::void; locals 1; l0 = sp0; out platform::void; call 0x1000; out platform:pint:void; o0 = l0; call 0x1000; ret;",
        "entry 1:platform::void; out platform::void; call 0x1000; out platform:pint:void; o0 = sp0; call 0x1000; ret;",
        &["E0221"],
    ),
    (
        "E0222",
        "entry 0:platform::pint; locals 1; l0 = 1; r = l0; ret;",
        "entry 0:platform::pint; locals 1; r = l0; ret;",
        &["E0222"],
    ),
    (
        "E0223",
        "entry 0:platform::pint; out platform::pint; call 0x1000; r = r + 1; ret;",
        "entry 0:platform::pint; out platform::void; call 0x1000; r = r + 1; ret;",
        &["E0223"],
    ),
    (
        "E0224",
        "entry 0:platform:g4,g4:g4; r = i0 + i1; ret;",
        "entry 0:platform:g4,pint:g4; r = i0 + i1; ret;",
        &["E0224"],
    ),
    (
        "E0225",
        "entry 0:platform:ref:pint; r = i0:pint; ret;",
        "entry 0:platform:ref:f8; r = i0:f8; ret;",
        &["E0225"],
    ),
    (
        "E0226",
        "entry 0:platform:pint:pint; ld r, [i0+8:pint]; ret;",
        "entry 0:platform:g4:pint; ld r, [i0+8:pint]; ret;",
        &["E0226"],
    ),
    (
        "E0227",
        "entry 0:platform::g1; r = -128:g1; ret;",
        "entry 0:platform::g1; r = 256:g1; ret;",
        &["E0227"],
    ),
    (
        "E0228",
        "entry 0:platform:g8,g8:g8; r = i0 * i1; ret;",
        "entry 0:platform:f8,f8:f8; r = i0 * i1; ret;",
        &["E0228"],
    ),
    (
        "E0229",
        "entry 0:platform:pint,pint:pint; ld r, [i0+i1*8:pint]; ret;",
        "entry 0:platform:pint,pint:pint; ld r, [i0+i1*3:pint]; ret;",
        &["E0229"],
    ),
    (
        "E0230",
        "entry 0:platform:pint:void; locals 1; l0 = i0; jc i0=0,a; l0 = 8; :a; st [l0+0:pint], 0; ret;",
        "entry 0:platform:pint:void; jc i0=0,a; locals 1; :a; ret;",
        &["E0230"],
    ),
    (
        "E0231",
        "entry 4:handler::void; tailcall sp0;",
        "entry 5:handler::void; tailcall sp0;",
        &["E0231"],
    ),
    (
        "E0232",
        "entry 4:handler::void; tailcall sp0;",
        "entry 4:handler:pint:void; tailcall sp0;",
        &["E0232"],
    ),
    (
        "E0233",
        "entry 2:handler::void; sp1 = sp1 + 1; tailcall sp0;",
        "entry 2:handler::void; std_places 2; sp0 = 1; tailcall sp0;",
        &["E0233"],
    ),
    (
        "E0234",
        "entry 0:platform::void; std_places 2; sp0 = 1; sp1 = 2; tailcall 0x1000;",
        "entry 0:platform::void; std_places 3; sp0 = 1; sp1 = 2; sp2 = 3; tailcall 0x1000;",
        &["E0234"],
    ),
    (
        "E0235",
        "entry 0:platform:pint:pint; ld r, [i0+0:pint,acquire]; st [i0+0:pint,release], r; ret;",
        "entry 0:platform:pint:pint; ld r, [i0+0:pint,release]; ret;",
        &["E0235"],
    ),
    (
        "E0236",
        "entry 0:platform:pint:pint; ld r, [i0+0:g4], sx; ret;",
        "entry 0:platform:pint:pint; ld r, [i0+0:pint], sx; ret;",
        &["E0236"],
    ),
    (
        "E0237",
        "entry 0:platform::void; push_m2n 0; out platform::void; call 0x1000; pop_m2n; ret;",
        "entry 0:platform::void; out platform::void; push_m2n 0; call 0x1000; pop_m2n; ret;",
        &["E0237"],
    ),
    (
        "E0238",
        "entry 0:platform::void; locals 1; alloc l0, 1048576; st [l0+0:pint], 0; ret;",
        "entry 0:platform::void; locals 1; alloc l0, 1048577; st [l0+0:pint], 0; ret;",
        &["E0238"],
    ),
    (
        "E0239",
        "entry 0:platform:pint:f8; ld r, [i0+0:f8]; ret;",
        "entry 0:platform:pint:f8; r = 0:f8; ret;",
        &["E0239"],
    ),
    (
        "E0240",
        "entry 0:platform:g8:g8; r = i0 << 63; ret;",
        "entry 0:platform:g8:g8; r = i0 << 64; ret;",
        &["E0240"],
    ),
    (
        "E0241",
        "entry 0:platform:pint:void; tailcall i0;",
        "entry 0:platform:ref:void; tailcall i0;",
        &["E0241"],
    ),
];

#[test]
fn every_rule_accepts_one_stub_and_rejects_another() {
    for (code, good, bad, codes) in RULES {
        let checked = assert_valid(good);
        assert!(
            checked.warnings().is_empty(),
            "{code}: {:?}",
            checked.warnings()
        );
        assert!(
            codes.contains(code),
            "{code}: the rejected stub must fail with {code}"
        );
        assert_invalid(bad, codes);
    }
}

#[test]
fn every_error_code_has_a_rule_example() {
    // Codes E0201..=E0241 are all covered by the table.
    for n in 201..=241 {
        let code = format!("E0{n}");
        assert!(
            RULES.iter().any(|(c, ..)| *c == code),
            "no example for {code}"
        );
    }
}

#[test]
fn warnings_for_unreachable_code_and_unread_locals() {
    let c = assert_valid("entry 0:platform::void; locals 2; l0 = 1; ret; l1 = 2; ret;");
    let codes: Vec<_> = c.warnings().iter().map(|w| w.code()).collect();
    assert_eq!(codes, ["W0202", "W0201"]);
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let stub = lil_syntax::parse(
        "entry 0:platform:g4:ref; locals 1; r = l0; l0 = i3; call 5; push_m2n 0; push_m2n 0; ret;",
    )
    .unwrap();
    let d = check(&stub).unwrap_err();
    let codes: Vec<_> = d.errors().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        ["E0222", "E0204", "E0209", "E0217", "E0207", "E0208"]
    );
}

/// An error inside a loop must not hide itself: the erroneous value flows
/// around the back edge to the loop head, and the pass that reports must
/// still see the types the code entering the loop gave.
#[test]
fn errors_inside_loops_are_reported() {
    assert_invalid(
        "entry 0:platform:g8:g8; locals 2; l0 = 0; l1 = i0; :loop; jc l1 = 0, done; \
         l0 = l0 + l1; l1 = l1 - 1; j loop; :done; r = l0:g8; ret;",
        &["E0224"],
    );
    // The same loop, typed consistently, is valid and every operation has a type.
    let c = assert_valid(
        "entry 0:platform:g8:g8; locals 2; l0 = 0:g8; l1 = i0; :loop; jc l1 = 0, done; \
         l0 = l0 + l1; l1 = l1 - 1; j loop; :done; r = l0; ret;",
    );
    for (i, inst) in c.stub().body.iter().enumerate() {
        if matches!(inst.kind, lil_syntax::InstKind::Binary { .. }) {
            assert!(c.op_type(i).is_some(), "instruction {i} has no type");
        }
    }
}

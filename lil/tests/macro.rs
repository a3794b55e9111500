//! `lil_parse!` at run time: the stub it builds is the stub the text API
//! parses from the same text with `%Ni` directives for the holes.
//!
//! Holes are written `{a}` (three bytes, like `%0i`) wherever the test can,
//! so that spans line up and [`same_with_spans`] can compare them too.

use lil::lil_parse;
use lil::syntax::{
    Arg, InstKind, OperandKind, Span, Stub, SyntaxErrorKind, SyntaxErrors, Var, parse, parse_with,
};

/// The macro's stub equals the text API's.
#[track_caller]
fn same(from_macro: Result<Stub, SyntaxErrors>, text: &str, args: &[Arg<'_>]) -> Stub {
    let expected = parse_with(text, args).unwrap_or_else(|e| {
        panic!(
            "the reference text does not parse:\n{}",
            e.render("t", text)
        )
    });
    let stub = from_macro.unwrap_or_else(|e| panic!("lil_parse! failed at run time: {e}"));
    assert_eq!(stub, expected);
    assert_eq!(stub.to_string(), expected.to_string());
    stub
}

/// As [`same`], and every span is equal too (`==` ignores spans; `Debug`
/// shows them).
#[track_caller]
fn same_with_spans(from_macro: Result<Stub, SyntaxErrors>, text: &str, args: &[Arg<'_>]) {
    let stub = same(from_macro, text, args);
    let expected = parse_with(text, args).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(format!("{stub:?}"), format!("{expected:?}"));
}

#[test]
fn a_stub_without_holes_is_the_parsed_stub_spans_included() {
    const TEXT: &str = "entry 1:managed:g4,pint:ref;
        locals 2; std_places 2; alloc l1, 32;
        l0 = ts; l1 = neg l0; l1 = l0 >>u 3; handles = l0;
        ld l0, [l0+l1*8+16:pint, acquire], zx;
        st [l0-8:g4, release], 5:g4;
        inc [0x10:g4];
        cas [l0+8:pint] = 0, l1, busy;
        jc l0 <=u l1:pint, busy;
        j done;
        :busy;
        out platform:g4,pint:void; o0 = sp0; o1 = i1; call l0;
        in2out rth:ref; call.noret 0x1000;
        push_m2n 0, 0x81, handles; m2n_save_all; pop_m2n;
        print 'it\\'s {not a hole} // nor a comment', r;
        print 0x2000;
        // a comment with {braces} and %0i
        :done;
        tailcall i1;";
    let stub = lil_parse!(
        "entry 1:managed:g4,pint:ref;
        locals 2; std_places 2; alloc l1, 32;
        l0 = ts; l1 = neg l0; l1 = l0 >>u 3; handles = l0;
        ld l0, [l0+l1*8+16:pint, acquire], zx;
        st [l0-8:g4, release], 5:g4;
        inc [0x10:g4];
        cas [l0+8:pint] = 0, l1, busy;
        jc l0 <=u l1:pint, busy;
        j done;
        :busy;
        out platform:g4,pint:void; o0 = sp0; o1 = i1; call l0;
        in2out rth:ref; call.noret 0x1000;
        push_m2n 0, 0x81, handles; m2n_save_all; pop_m2n;
        print 'it\\'s {not a hole} // nor a comment', r;
        print 0x2000;
        // a comment with {braces} and %0i
        :done;
        tailcall i1;"
    );
    same_with_spans(stub, TEXT, &[]);
}

#[test]
fn raw_string_literals() {
    same_with_spans(
        lil_parse!(r"entry 0:platform::void; print 'a\b'; ret;"),
        r"entry 0:platform::void; print 'a\b'; ret;",
        &[],
    );
    same_with_spans(
        lil_parse!(r#"entry 0:platform::void; print 'say "x"'; ret;"#,),
        r#"entry 0:platform::void; print 'say "x"'; ret;"#,
        &[],
    );
}

#[test]
fn named_positional_and_captured_holes() {
    let a = 7;
    same_with_spans(
        lil_parse!("entry 0:platform::void; l0 = {a}; r = {b}; ret;", b = 9),
        "entry 0:platform::void; l0 = %0i; r = %1i; ret;",
        &[Arg::int(7), Arg::int(9)],
    );
    same(
        lil_parse!(
            "entry 0:platform::void; l0 = {}; r = {}; o0 = {}; ret;",
            1,
            2,
            a
        ),
        "entry 0:platform::void; l0 = %0i; r = %1i; o0 = %2i; ret;",
        &[Arg::int(1), Arg::int(2), Arg::int(7)],
    );
    // `{N}` names a positional argument; an argument may fill several holes.
    same_with_spans(
        lil_parse!(
            "entry 0:platform::void; l0 = {1}; r = {0}; o0 = {1}; ret;",
            10,
            20
        ),
        "entry 0:platform::void; l0 = %1i; r = %0i; o0 = %1i; ret;",
        &[Arg::int(10), Arg::int(20)],
    );
    // Positional first, then named, then captures, all in one stub.
    same(
        lil_parse!(
            "entry 0:platform::void; l0 = {}; r = {b}; o0 = {a}; ret;",
            3,
            b = 4,
        ),
        "entry 0:platform::void; l0 = %0i; r = %1i; o0 = %2i; ret;",
        &[Arg::int(3), Arg::int(4), Arg::int(7)],
    );
}

#[test]
fn each_argument_is_evaluated_once_in_order() {
    let mut calls = Vec::new();
    let mut next = |v: i64| {
        calls.push(v);
        v
    };
    let stub = lil_parse!(
        "entry 0:platform::void; l0 = {}; r = {x}; o0 = {x}; ret;",
        next(1),
        x = next(2)
    );
    same(
        stub,
        "entry 0:platform::void; l0 = %0i; r = %1i; o0 = %1i; ret;",
        &[Arg::int(1), Arg::int(2)],
    );
    assert_eq!(calls, [1, 2]);
}

#[test]
fn immediates_of_every_integer_type_and_pointers() {
    let word = 0u64;
    let p = &word as *const u64;
    let m = std::ptr::null_mut::<[u8; 4]>().wrapping_add(3);
    same_with_spans(
        lil_parse!(
            "entry 0:platform::void; l0 = {a}; l1 = {b}; l2 = {c}:g4; call {p}; call {m}; ret;",
            a = -1i8,
            b = i64::MIN,
            c = u64::MAX
        ),
        "entry 0:platform::void; l0 = %0i; l1 = %1i; l2 = %2i:g4; call %3i; call %4i; ret;",
        &[
            Arg::int(-1i8),
            Arg::int(i64::MIN),
            Arg::int(u64::MAX),
            Arg::ptr(p),
            Arg::ptr(m),
        ],
    );
    let stub = lil_parse!("entry 0:platform::void; call {p}; ret;").unwrap();
    let InstKind::Call { target, .. } = &stub.body[0].kind else {
        panic!("not a call: {stub}");
    };
    assert_eq!(target.kind, OperandKind::Imm(p as usize as i128));

    for v in [0u16, 1, u16::MAX] {
        same(
            lil_parse!("entry 0:platform::void; r = {v}; ret;"),
            "entry 0:platform::void; r = %0i; ret;",
            &[Arg::int(v)],
        );
    }
    let (s, u) = (-3isize, 3usize);
    same(
        lil_parse!("entry 0:platform::void; r = {s} - {u}; ret;"),
        "entry 0:platform::void; r = %0i - %1i; ret;",
        &[Arg::int(s as i64), Arg::int(u as u64)],
    );
}

#[test]
fn every_operand_position_takes_a_hole() {
    // `%10i` and up are longer than `{k}`: compare values, not spans.
    same(
        lil_parse!(
            "entry 0:platform::void;
             l0 = neg {a}; l1 = {b} + {c}; l1 = {d} * l0; handles = {e};
             st [l0+0:g4], {f}; cas [l0+0:pint] = {g}, {h}, L; :L;
             jc {i} <u {j}:g4, L;
             push_m2n {k}, {m}, handles;
             print {n}, {o};
             ret;",
            a = 1,
            b = 2,
            c = 3,
            d = 4,
            e = 5,
            f = 6,
            g = 7,
            h = 8,
            i = 9,
            j = 10,
            k = 11,
            m = 12,
            n = 13,
            o = 14
        ),
        "entry 0:platform::void;
             l0 = neg %0i; l1 = %1i + %2i; l1 = %3i * l0; handles = %4i;
             st [l0+0:g4], %5i; cas [l0+0:pint] = %6i, %7i, L; :L;
             jc %8i <u %9i:g4, L;
             push_m2n %10i, %11i, handles;
             print %12i, %13i;
             ret;",
        &(1..=14).map(Arg::int).collect::<Vec<_>>(),
    );
}

#[test]
fn variable_index_holes() {
    let k = 3u32;
    same_with_spans(
        lil_parse!(
            "entry 0:platform:pint:void; locals 4; std_places 4;
             l{k} = i{z}; sp{k} = l{k}; out platform:pint:void; o{z} = sp{k};
             ld l{k}, [l{k}+l{k}*8+0:pint]; ret;",
            z = 0
        ),
        "entry 0:platform:pint:void; locals 4; std_places 4;
             l%0i = i%1i; sp%0i = l%0i; out platform:pint:void; o%1i = sp%0i;
             ld l%0i, [l%0i+l%0i*8+0:pint]; ret;",
        &[Arg::int(k), Arg::int(0)],
    );
}

#[test]
fn count_and_size_holes() {
    same_with_spans(
        lil_parse!(
            "entry {s}:platform::void; locals {n}; std_places {s}; alloc l0, {z}; ret;",
            s = 2,
            n = 1,
            z = 4096u32
        ),
        "entry %0i:platform::void; locals %1i; std_places %0i; alloc l0, %2i; ret;",
        &[Arg::int(2), Arg::int(1), Arg::int(4096u32)],
    );
    let n = 65_535;
    same(
        lil_parse!(
            "entry 0:platform::void; locals {n}; alloc l0, {}; ret;",
            u32::MAX
        ),
        "entry 0:platform::void; locals %0i; alloc l0, %1i; ret;",
        &[Arg::int(n), Arg::int(u32::MAX)],
    );
}

#[test]
fn address_offset_and_scale_holes() {
    let cases = [(0i64, 0i64), (16, 8), (-16, 1 << 40), (i64::MAX, i64::MIN)];
    for (a, b) in cases {
        same_with_spans(
            lil_parse!(
                "entry 0:platform:pint:void; locals 2;
                 ld l0, [i0+{a}:pint];
                 ld l0, [i0-{a}:pint];
                 ld l0, [i0+{a}+8-{b}:pint];
                 ld l0, [i0 - {b} // comment
                         - {a} + 0x10 : pint];
                 ld l0, [{a}:pint];
                 st [i0+l1*{s}+{a}:g4], 0;
                 st [{s}*l1+{b}:g4], 0;
                 inc [{s}*l1-{a}:g8];
                 ret;",
                s = 4
            ),
            "entry 0:platform:pint:void; locals 2;
                 ld l0, [i0+%0i:pint];
                 ld l0, [i0-%0i:pint];
                 ld l0, [i0+%0i+8-%1i:pint];
                 ld l0, [i0 - %1i // comment
                         - %0i + 0x10 : pint];
                 ld l0, [%0i:pint];
                 st [i0+l1*%2i+%0i:g4], 0;
                 st [%2i*l1+%1i:g4], 0;
                 inc [%2i*l1-%0i:g8];
                 ret;",
            &[Arg::int(a), Arg::int(b), Arg::int(4)],
        );
    }
}

#[test]
fn literals_that_look_like_sentinels_stay_literals() {
    // u32::MAX is the sentinel of the first index/size hole; here it is also
    // written as a literal next to one.
    let k = 1;
    same_with_spans(
        lil_parse!(
            "entry 0:platform::void; alloc l{k}, 4294967295; r = {a} * 4294967295;
             ld l0, [l0+{a}*l1+4294967295:pint]; ret;",
            a = 2
        ),
        "entry 0:platform::void; alloc l%0i, 4294967295; r = %1i * 4294967295;
             ld l0, [l0+%1i*l1+4294967295:pint]; ret;",
        &[Arg::int(1), Arg::int(2)],
    );
    same(
        lil_parse!(
            "entry 0:platform::void; l0 = -9223372036854775808; r = {}; ret;",
            0
        ),
        "entry 0:platform::void; l0 = -9223372036854775808; r = %0i; ret;",
        &[Arg::int(0)],
    );
}

#[test]
fn labels_are_shared_by_name() {
    let stub = lil_parse!(
        "entry 0:platform:pint:void; jc i0 = {z}, zero; j done; :zero; r = 1; :done; ret;",
        z = 0
    );
    let stub = same(
        stub,
        "entry 0:platform:pint:void; jc i0 = %0i, zero; j done; :zero; r = 1; :done; ret;",
        &[Arg::int(0)],
    );
    assert_eq!(stub.labels.len(), 2);
    assert!(stub.label_id("done").is_some());
}

#[test]
fn the_crate_path_can_be_given() {
    let x = 5;
    same(
        lil_parse!(crate = lil_syntax, "entry 0:platform::void; r = {x}; ret;"),
        "entry 0:platform::void; r = %0i; ret;",
        &[Arg::int(5)],
    );
    same(
        lil_parse!(crate = ::lil::syntax, "entry 0:platform::void; ret;"),
        "entry 0:platform::void; ret;",
        &[],
    );
}

/// The first error of a failed run-time conversion: kind and span.
fn out_of_range(result: Result<Stub, SyntaxErrors>) -> (String, &'static str, i128, Span) {
    let errors = result.expect_err("the value is out of range");
    match &errors.errors()[0] {
        lil::syntax::SyntaxError {
            kind:
                SyntaxErrorKind::ArgumentOutOfRange {
                    directive,
                    what,
                    value,
                },
            span,
        } => (directive.clone(), *what, *value, *span),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn out_of_range_values_are_the_text_apis_errors() {
    let text = "entry 0:platform::void; o%0i = 0; ret;";
    for k in [-1i64, 65_536, 1 << 40] {
        let (hole, what, value, span) =
            out_of_range(lil_parse!("entry 0:platform::void; o{k} = 0; ret;"));
        assert_eq!(
            (hole.as_str(), what, value),
            ("{k}", "a variable index", k.into())
        );
        let reference = parse_with(text, &[Arg::int(k)]).unwrap_err();
        let reference = &reference.errors()[0];
        assert_eq!(reference.code(), "E0105");
        assert!(span.same_range(reference.span), "{span:?}");
        assert_eq!(
            reference.kind,
            SyntaxErrorKind::ArgumentOutOfRange {
                directive: "%0i".into(),
                what,
                value
            }
        );
    }

    let n = 70_000u32;
    let (_, what, value, span) =
        out_of_range(lil_parse!("entry 0:platform::void; locals {n}; ret;"));
    assert_eq!((what, value), ("a count", 70_000));
    assert_eq!(span, Span::new(31, 34));
    assert!(span.same_range(Span::new(31, 34)));

    let (_, what, value, _) = out_of_range(lil_parse!("entry {n}:platform::void; ret;", n = -1i32));
    assert_eq!((what, value), ("a count", -1));

    let (_, what, value, _) = out_of_range(lil_parse!(
        "entry 0:platform::void; alloc l0, {}; ret;",
        1u64 << 32
    ));
    assert_eq!((what, value), ("a size", 1 << 32));

    let (_, what, value, _) = out_of_range(lil_parse!(
        "entry 0:platform::void; ld l0, [l0+l1*{}:pint]; ret;",
        -8
    ));
    assert_eq!((what, value), ("a size", -8));

    // Immediates are checked as for `%Ni`: 128-bit values may not fit.
    let (_, what, value, _) = out_of_range(lil_parse!(
        "entry 0:platform::void; r = {}; ret;",
        1i128 << 64
    ));
    assert_eq!((what, value), ("an immediate", 1 << 64));
    assert!(
        parse_with(
            "entry 0:platform::void; r = %0i; ret;",
            &[Arg::int(1i128 << 64)]
        )
        .is_err()
    );
}

#[test]
fn every_bad_hole_is_reported() {
    let (k, n) = (70_000, -1);
    let errors = lil_parse!("entry 0:platform::void; locals {n}; o{k} = 0; ret;").unwrap_err();
    let holes: Vec<_> = errors
        .errors()
        .iter()
        .map(|e| match &e.kind {
            SyntaxErrorKind::ArgumentOutOfRange { directive, .. } => directive.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(holes, ["{n}", "{k}"]);
}

#[test]
fn a_macro_stub_is_a_plain_stub() {
    // The result feeds everything a parsed stub feeds: printing and re-parsing.
    let stub = lil_parse!("entry 0:platform:pint:pint; r = i0 + {}; ret;", 1).unwrap();
    assert_eq!(parse(&stub.to_string()).unwrap(), stub);
    let InstKind::Binary { dst, .. } = &stub.body[0].kind else {
        panic!("{stub}");
    };
    assert_eq!(dst.var, Var::Ret);
}

//! Every syntax form, every syntax error, and the awkward inputs.

use lil_syntax::*;

/// Parse one statement after a fixed entry and print it back canonically.
fn canon(stmt: &str) -> String {
    let text = format!("entry 0:platform::void;\n{stmt}");
    let stub = parse(&text).unwrap_or_else(|e| panic!("`{stmt}` failed: {}", e.render("t", &text)));
    assert_eq!(stub.body.len(), 1, "`{stmt}` is one statement");
    stub.display_instruction(&stub.body[0].kind).to_string()
}

#[test]
fn every_statement_form_parses_to_its_canonical_text() {
    // (input, canonical print)
    let table: &[(&str, &str)] = &[
        (":slowpath;", ":slowpath;"),
        (": $1 ;", ":$1;"),
        ("locals 3;", "locals 3;"),
        ("std_places 4;", "std_places 4;"),
        ("alloc l0, 16;", "alloc l0, 16;"),
        ("l0=i1;", "l0 = i1;"),
        ("r = -5;", "r = -5;"),
        ("o3 = 0x10:g4;", "o3 = 16:g4;"),
        ("l0 = 0xffffffffffffffff;", "l0 = 0xffffffffffffffff;"),
        ("l0 = -9223372036854775808;", "l0 = -0x8000000000000000;"),
        ("sp0 = r;", "sp0 = r;"),
        ("l1 = neg l0;", "l1 = neg l0;"),
        ("l1 = not l0;", "l1 = not l0;"),
        ("l1 = sx1 l0;", "l1 = sx1 l0;"),
        ("l1 = sx2 l0;", "l1 = sx2 l0;"),
        ("l1 = sx4 i0;", "l1 = sx4 i0;"),
        ("l1 = zx1 r;", "l1 = zx1 r;"),
        ("l1 = zx2 r;", "l1 = zx2 r;"),
        ("l1 = zx4 r;", "l1 = zx4 r;"),
        ("l1 = tr1 l0;", "l1 = tr1 l0;"),
        ("l1 = tr2 l0;", "l1 = tr2 l0;"),
        ("r = tr4 l0;", "r = tr4 l0;"),
        ("l2=r:pint+i0;", "l2 = r:pint + i0;"),
        ("l2 = l0 - 5;", "l2 = l0 - 5;"),
        ("l2 = l0 - -5;", "l2 = l0 - -5;"),
        ("l2 = l0 * l1;", "l2 = l0 * l1;"),
        ("l2 = l0 & 255;", "l2 = l0 & 255;"),
        ("l2 = l0 | l1;", "l2 = l0 | l1;"),
        ("l2 = l0 ^ l1;", "l2 = l0 ^ l1;"),
        ("l2 = i1:pint<<1;", "l2 = i1:pint << 1;"),
        ("l2 = l0 >> 3;", "l2 = l0 >> 3;"),
        ("l2 = l0 >>u 3;", "l2 = l0 >>u 3;"),
        ("l2 = 5 - l0;", "l2 = 5 - l0;"),
        ("l0 = ts;", "l0 = ts;"),
        ("handles = l0;", "handles = l0;"),
        ("ld l0, [l0+8:pint];", "ld l0, [l0+8:pint];"),
        ("ld l0,[l0-8:pint];", "ld l0, [l0-8:pint];"),
        ("ld l0, [l0:pint];", "ld l0, [l0+0:pint];"),
        ("ld l1, [i1+4:g4],zx;", "ld l1, [i1+4:g4], zx;"),
        ("ld l1, [i1+4:g2], sx;", "ld l1, [i1+4:g2], sx;"),
        ("ld l0, [l0+8*l1+16:pint];", "ld l0, [l0+l1*8+16:pint];"),
        ("ld l0, [l0+l1*8+16:pint];", "ld l0, [l0+l1*8+16:pint];"),
        ("ld l0, [l0+l1:g1];", "ld l0, [l0+l1*1+0:g1];"),
        ("ld l0, [8*i0+16:pint];", "ld l0, [i0*8+16:pint];"),
        ("ld l0, [0x1000:ref];", "ld l0, [4096:ref];"),
        ("ld l0, [i0+8:pint,acquire];", "ld l0, [i0+8:pint,acquire];"),
        ("ld l0, [i0 + 8 : f8];", "ld l0, [i0+8:f8];"),
        ("st [r+0:pint],i1;", "st [r+0:pint], i1;"),
        ("st [l0+8:g4, release], 5;", "st [l0+8:g4,release], 5;"),
        ("st [l0+8:f4], l1;", "st [l0+8:f4], l1;"),
        ("inc [0x10:g4];", "inc [16:g4];"),
        (
            "cas [l0+8:pint]=0,l1,busy;",
            "cas [l0+8:pint] = 0, l1, busy;",
        ),
        ("j done;", "j done;"),
        ("jc l2 >u l1,slowpath;", "jc l2 >u l1, slowpath;"),
        ("jc i0=0,L;", "jc i0 = 0, L;"),
        ("jc i0==0,L;", "jc i0 = 0, L;"),
        ("jc i0!=0:ref,L;", "jc i0 != 0:ref, L;"),
        ("jc l0<l1,L;", "jc l0 < l1, L;"),
        ("jc l0<=l1,L;", "jc l0 <= l1, L;"),
        ("jc l0>l1,L;", "jc l0 > l1, L;"),
        ("jc l0>=l1,L;", "jc l0 >= l1, L;"),
        ("jc l0<ul1,L;", "jc l0 <u l1, L;"),
        ("jc l0<=u l1,L;", "jc l0 <=u l1, L;"),
        ("jc l0>u l1,L;", "jc l0 >u l1, L;"),
        ("jc l0>=u l1,L;", "jc l0 >=u l1, L;"),
        ("jc 5<l0,L;", "jc 5 < l0, L;"),
        ("jc l0:g4<l1,L;", "jc l0:g4 < l1, L;"),
        (
            "out platform:g4,pint,pint:ref;",
            "out platform:g4,pint,pint:ref;",
        ),
        ("out platform::void;", "out platform::void;"),
        ("out jni:pint,pint,f8,f8:f8;", "out jni:pint,pint,f8,f8:f8;"),
        ("in2out platform:ref;", "in2out platform:ref;"),
        ("in2out stdcall:void;", "in2out stdcall:void;"),
        ("call 0x1234;", "call 4660;"),
        ("call.noret l0;", "call.noret l0;"),
        ("tailcall r;", "tailcall r;"),
        ("ret;", "ret;"),
        ("push_m2n;", "push_m2n;"),
        ("push_m2n 0;", "push_m2n 0;"),
        ("push_m2n l0, handles;", "push_m2n l0, handles;"),
        ("push_m2n 0, 0x81;", "push_m2n 0, 129;"),
        ("push_m2n 0, 0x81, handles;", "push_m2n 0, 129, handles;"),
        ("pop_m2n;", "pop_m2n;"),
        ("m2n_save_all;", "m2n_save_all;"),
        ("print 'hello, it''s';", "print 'hello, it', 's';"),
        ("print 'it\\'s', l0;", "print 'it\\'s', l0;"),
        ("print 0x1000;", "print 4096;"),
        ("print 0x1000, r;", "print 4096, r;"),
        ("l0 = i0 // a comment\n;", "l0 = i0;"),
    ];
    for (input, expected) in table {
        if *input == "print 'hello, it''s';" {
            // Two adjacent strings are not LIL; make sure this is an error, not a print.
            let text = format!("entry 0:platform::void;\n{input}");
            assert!(parse(&text).is_err(), "{input}");
            continue;
        }
        assert_eq!(canon(input), *expected, "input `{input}`");
    }
}

#[test]
fn entry_forms() {
    for (text, std_places, arbitrary) in [
        ("entry 0:managed:g4,pint:ref;", 0, false),
        ("entry 1:managed:arbitrary;", 1, true),
        ("entry 0:stdcall::void;", 0, false),
        ("entry 4:handler::void;", 4, false),
        ("entry 0:rth:f4,f8:f8;", 0, false),
        ("entry 0:jni:pint:g8;", 0, false),
    ] {
        let stub = parse(text).unwrap();
        assert_eq!(stub.entry.std_places, std_places);
        assert_eq!(stub.entry.signature.typed().is_none(), arbitrary, "{text}");
        assert_eq!(stub.entry.to_string(), text);
    }
}

/// (text, expected error code)
const ERRORS: &[(&str, &str)] = &[
    ("entry 0:platform::void; frob l0;", "E0003"),
    ("entry 0:platform::void; ret", "E0001"),
    ("entry 0:platform::void; l0 = l1 l2;", "E0002"),
    (
        "entry 0:platform::void; l0 = l99999999999999999999;",
        "E0006",
    ),
    ("entry 0:platform::void; locals 70000;", "E0006"),
    ("entry 0:platform::void; l0 = 0x10000000000000000;", "E0007"),
    (
        "entry 0:platform::void; l0 = -9223372036854775809;",
        "E0007",
    ),
    (
        "entry 0:platform::void; l0 = 123456789012345678901234567890;",
        "E0007",
    ),
    ("entry 0:platform::void; l0 = 12ab;", "E0008"),
    ("entry 0:platform::void; l0 = 0x;", "E0008"),
    ("entry 0:platform:g3:void;", "E0004"),
    ("entry 0:fastcall::void;", "E0005"),
    ("", "E0010"),
    ("   // only a comment\n", "E0010"),
    ("locals 1; entry 0:platform::void;", "E0010"),
    ("entry 0:platform::void; entry 0:platform::void;", "E0011"),
    ("entry 0:platform::void; out platform:arbitrary;", "E0012"),
    ("entry 0:platform::void; print 'abc;", "E0013"),
    ("entry 0:platform::void; @;", "E0014"),
    ("entry 0:platform::void; ld l0, [l0-l1:pint];", "E0015"),
    ("entry 0:platform::void; ld l0, [l0-4*l1:pint];", "E0015"),
    ("entry 0:platform::void; ld l0, [l0+l1+l2:pint];", "E0016"),
    ("entry 0:platform::void; ld l0, [l0+8:pint], qx;", "E0017"),
    ("entry 0:platform::void; l0 = %0i;", "E0101"),
    ("entry 0:platform::void; l0 = %q;", "E0104"),
    ("entry 0:platform::void; l0 = {x};", "E0106"),
    ("entry 0:platform::void; j %0i;", "E0104"),
    ("entry 0:platform::void; ld l0, [l0+8:pint] ret;", "E0002"),
    ("entry 0:platform::void; jc l0 ! l1, L;", "E0002"),
    ("entry 0:platform::void; call.noretx l0;", "E0002"),
    ("entry 0:platform::void; l0 = - 5;", "E0008"),
];

#[test]
fn every_syntax_error_has_its_code() {
    for (text, code) in ERRORS {
        let err = parse(text).expect_err(text);
        assert_eq!(err.errors()[0].code(), *code, "`{text}`: {err}");
        // Rendering never panics and names the code.
        assert!(err.render("t.lil", text).contains(code));
    }
}

#[test]
fn errors_point_at_the_offending_text() {
    let text = "entry 0:platform::void;\nlocals 1;\nl0 = l99999999999999999999;\nret;";
    let err = parse(text).unwrap_err();
    let e = &err.errors()[0];
    assert_eq!(&text[e.span.range()], "99999999999999999999");
    let rendered = err.render("bad.lil", text);
    assert!(rendered.contains("bad.lil:3:"), "{rendered}");
    assert!(rendered.contains("^^^^"), "{rendered}");
}

#[test]
fn every_broken_statement_is_reported() {
    let text = "entry 0:platform::void; frob; l0 = ; ret; bar l1; ret;";
    let err = parse(text).unwrap_err();
    let codes: Vec<_> = err.errors().iter().map(|e| e.code()).collect();
    assert_eq!(codes, ["E0003", "E0002", "E0003"]);
}

#[test]
fn directives_fill_typed_arguments() {
    let m = MethodSig {
        is_static: false,
        params: vec![ValueKind::Reference, ValueKind::Int],
        result: ValueKind::Int,
    };
    let stub = parse_with(
        "entry 0:managed:%0m; out jni:%1j; o%2i = l0 + %3i; call %4i; ret;",
        &[
            Arg::method(&m),
            Arg::method(&m),
            Arg::int(1),
            Arg::int(-8),
            Arg::int(0x1000),
        ],
    )
    .unwrap();
    assert_eq!(stub.entry.to_string(), "entry 0:managed:ref,ref,g4:g4;");
    assert_eq!(
        stub.to_string(),
        "entry 0:managed:ref,ref,g4:g4;\nout jni:pint,pint,pint,g4:g4;\no1 = l0 + -8;\ncall 4096;\nret;\n"
    );
    let stat = MethodSig {
        is_static: true,
        params: vec![ValueKind::Double, ValueKind::Double],
        result: ValueKind::Double,
    };
    let s = parse_with("entry 0:jni:%0j; ret;", &[Arg::method(&stat)]).unwrap();
    assert_eq!(s.entry.to_string(), "entry 0:jni:pint,pint,f8,f8:f8;");
}

#[test]
fn directive_argument_errors_name_the_directive() {
    let m = MethodSig {
        is_static: true,
        params: vec![],
        result: ValueKind::Void,
    };
    let cases: Vec<(&str, Vec<Arg>, &str, &str)> = vec![
        (
            "entry 0:platform::void; l0 = %1i; ret;",
            vec![Arg::int(1)],
            "E0101",
            "%1i",
        ),
        (
            "entry 0:platform::void; l0 = %0i; ret;",
            vec![Arg::method(&m)],
            "E0102",
            "%0i",
        ),
        (
            "entry 0:platform:%0m; ret;",
            vec![Arg::int(3)],
            "E0102",
            "%0m",
        ),
        (
            "entry 0:platform::void; ret;",
            vec![Arg::int(3)],
            "E0103",
            "argument 0",
        ),
        (
            "entry 0:platform::void; l%0i = 1; ret;",
            vec![Arg::int(70000)],
            "E0105",
            "%0i",
        ),
        (
            "entry 0:platform::void; locals %0i; ret;",
            vec![Arg::int(-1)],
            "E0105",
            "%0i",
        ),
        (
            "entry 0:platform::void; l0 = %0i; ret;",
            vec![Arg::int(1i128 << 64)],
            "E0105",
            "%0i",
        ),
    ];
    for (text, args, code, names) in cases {
        let err = parse_with(text, &args).expect_err(text);
        assert_eq!(err.errors()[0].code(), code, "{text}: {err}");
        assert!(err.errors()[0].to_string().contains(names), "{text}: {err}");
    }
}

#[test]
fn label_directives_follow_drlvm() {
    // The idiom `jc c,%n; …; j %o; :%g; …; :%g;` from the JNI wrapper.
    let mut b = StubBuilder::new(
        "entry 0:platform:pint:pint; jc i0=0,%n; r=1; j %o; :%g; r=2; :%g;",
        &[],
    )
    .unwrap();
    b.append("jc i0=0,%n; j %p; :%g; ret;", &[]).unwrap();
    let stub = b.finish();
    let names: Vec<&str> = stub.labels.iter().map(|n| &**n).collect();
    assert_eq!(names, ["$1", "$2", "$3"]);
    let printed = stub.to_string();
    assert!(
        printed.contains(
            "jc i0 = 0, $1;\nr = 1;\nj $2;\n:$1;\nr = 2;\n:$2;\njc i0 = 0, $3;\nj $2;\n:$3;"
        ),
        "{printed}"
    );
}

#[test]
fn failed_append_leaves_the_builder_unchanged() {
    let mut b = StubBuilder::new("entry 0:platform::void; :a;", &[]).unwrap();
    let before = b.clone().finish();
    assert!(b.append("j %g; frob;", &[]).is_err());
    assert_eq!(b.clone().finish(), before);
    b.append("j %g; :%p; ret;", &[]).unwrap();
    let s = b.finish();
    assert_eq!(s.labels.len(), 2);
    assert_eq!(&*s.labels[1], "$1");
}

#[test]
fn appended_spans_point_into_the_joined_source() {
    let mut b = StubBuilder::new("entry 0:platform::void;", &[]).unwrap();
    b.append("  ret;", &[]).unwrap();
    let src = b.source().to_owned();
    let stub = b.finish();
    assert_eq!(&src[stub.body[0].span.range()], "ret;");
}

#[test]
fn non_utf8_bytes_are_an_error() {
    let err = parse_bytes(b"entry 0:platform::void; ret; \xff\xfe").unwrap_err();
    assert_eq!(err.errors()[0].code(), "E0009");
    assert_eq!(err.errors()[0].span.start, 29);
}

/// A deterministic pseudo-random byte stream (no dependency needed).
fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn a_megabyte_of_random_bytes_is_an_error_not_a_panic() {
    for seed in 1..4u64 {
        let bytes = xorshift_bytes(seed, 1 << 20);
        assert!(parse_bytes(&bytes).is_err());
        // The same bytes as lossy text, so the parser itself sees them.
        let text = String::from_utf8_lossy(&bytes);
        let err = parse(&format!("entry 0:platform::void;{text}")).unwrap_err();
        assert!(err.errors().len() <= 51);
    }
    // Random LIL-ish tokens get much further into the parser.
    let tokens = [
        "l0",
        "=",
        "+",
        "[",
        "]",
        ":",
        ";",
        ",",
        "pint",
        "ld",
        "jc",
        "0x1",
        "-",
        "%0i",
        "{",
        "}",
        "'",
        "i1",
        "<u",
        "call.noret",
        "//",
        "\n",
        "*",
        "sx4",
        "push_m2n",
        "handles",
        "%g",
        "entry",
    ];
    let mut x = 7u64;
    let mut text = String::from("entry 0:platform::void;");
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push_str(tokens[(x % tokens.len() as u64) as usize]);
        text.push(' ');
    }
    let _ = parse(&text);
}

#[test]
fn truncated_input_at_every_byte_is_an_error_or_a_stub() {
    let full = "entry 0:managed:g4,pint:ref; locals 3; l0=ts; ld r,[l0+8:ref]; ld l1,[l0+16:pint]; \
                l2=r:pint+i0; jc l2 >u l1,slowpath; st [r+0:pint],i1; st [l0+8:pint],l2; ret; \
                :slowpath; push_m2n 0, 0x81, handles; in2out platform:ref; call 0x1234; pop_m2n; ret;";
    for cut in 0..full.len() {
        let _ = parse(&full[..cut]);
    }
    assert!(parse(full).is_ok());
}

#[test]
fn large_inputs_parse() {
    // 10,000 statements: the parser handles big generated stubs (its speed is measured by the bench).
    let mut text = String::from("entry 0:platform:pint:pint; locals 2; l0 = i0;\n");
    for i in 0..10_000 {
        text.push_str(&format!("l1 = l0 + {i}; :L{i}; jc l1 <u 5, L{i};\n"));
    }
    text.push_str("r = l0; ret;");
    let stub = parse(&text).unwrap();
    assert_eq!(stub.body.len(), 2 + 30_000 + 2);
    assert_eq!(stub.labels.len(), 10_000);
    assert_eq!(parse(&stub.to_string()).unwrap(), stub);
}

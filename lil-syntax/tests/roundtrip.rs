//! `parse(print(s)) == s` for arbitrary stubs.
//!
//! The generator produces every AST the printer can represent: any
//! instruction, any variable index up to `MAX_INDEX`, any immediate LIL can
//! write, any label name. (`push_m2n` with a frame type or handles but no
//! method is not generated: it prints with the method spelled out as `0`,
//! the same frame but not the same AST; a test below covers it.)

use lil_syntax::*;
use proptest::prelude::*;

fn ty() -> impl Strategy<Value = Type> {
    prop::sample::select(Type::ALL.to_vec())
}

fn cc() -> impl Strategy<Value = CallConv> {
    prop::sample::select(CallConv::ALL.to_vec())
}

fn index() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..8, 1 => 0u32..=MAX_INDEX]
}

fn imm() -> impl Strategy<Value = i128> {
    prop_oneof![
        4 => -300i128..300,
        1 => (i64::MIN as i128)..=(u64::MAX as i128),
        1 => prop::sample::select(vec![i64::MIN as i128, u64::MAX as i128, 0x1_0000, -0x1_0000, 0xffff]),
    ]
}

fn var() -> impl Strategy<Value = Var> {
    prop_oneof![
        index().prop_map(Var::Input),
        index().prop_map(Var::Local),
        index().prop_map(Var::Output),
        index().prop_map(Var::StdPlace),
        Just(Var::Ret),
    ]
}

fn place() -> impl Strategy<Value = Place> {
    var().prop_map(|var| Place {
        var,
        span: Span::DUMMY,
    })
}

fn operand() -> impl Strategy<Value = Operand> {
    let kind = prop_oneof![
        var().prop_map(OperandKind::Var),
        imm().prop_map(OperandKind::Imm)
    ];
    (kind, prop::option::of(ty())).prop_map(|(kind, cast)| Operand {
        kind,
        cast,
        span: Span::DUMMY,
    })
}

fn address() -> impl Strategy<Value = Address> {
    (
        prop::option::of(place()),
        prop::option::of((
            place(),
            prop_oneof![prop::sample::select(vec![1u32, 2, 4, 8]), any::<u32>()],
        )),
        imm(),
        ty(),
        prop::sample::select(vec![Ordering::Plain, Ordering::Acquire, Ordering::Release]),
    )
        .prop_map(|(base, index, offset, ty, ordering)| Address {
            base,
            index,
            offset,
            ty,
            ordering,
            span: Span::DUMMY,
        })
}

fn signature() -> impl Strategy<Value = Signature> {
    (
        cc(),
        prop::collection::vec(ty(), 0..8),
        prop::option::of(ty()),
    )
        .prop_map(|(cc, params, ret)| Signature {
            cc,
            params,
            ret,
            span: Span::DUMMY,
        })
}

/// A label id from a pool of 6; renumbered in order of appearance later.
fn label() -> impl Strategy<Value = LabelRef> {
    (0u32..6).prop_map(|i| LabelRef {
        id: LabelId(i),
        span: Span::DUMMY,
    })
}

fn inst() -> impl Strategy<Value = InstKind> {
    let unary = prop::sample::select(UnaryOp::ALL.to_vec());
    let binary = prop::sample::select(BinaryOp::ALL.to_vec());
    let pred = prop::sample::select(Predicate::ALL.to_vec());
    prop_oneof![
        label().prop_map(InstKind::Label),
        (0u32..=MAX_INDEX).prop_map(InstKind::Locals),
        (0u32..=MAX_INDEX).prop_map(InstKind::StdPlaces),
        (place(), any::<u32>()).prop_map(|(dst, size)| InstKind::Alloc { dst, size }),
        (place(), operand()).prop_map(|(dst, src)| InstKind::Move { dst, src }),
        (place(), unary, operand()).prop_map(|(dst, op, src)| InstKind::Unary { dst, op, src }),
        (place(), binary, operand(), operand()).prop_map(|(dst, op, lhs, rhs)| InstKind::Binary {
            dst,
            op,
            lhs,
            rhs
        }),
        place().prop_map(|dst| InstKind::Ts { dst }),
        operand().prop_map(InstKind::Handles),
        (
            place(),
            address(),
            prop::option::of(prop::sample::select(vec![Extension::Sign, Extension::Zero]))
        )
            .prop_map(|(dst, addr, ext)| InstKind::Ld { dst, addr, ext }),
        (address(), operand()).prop_map(|(addr, src)| InstKind::St { addr, src }),
        address().prop_map(|addr| InstKind::Inc { addr }),
        (address(), operand(), operand(), label()).prop_map(|(addr, compare, source, on_fail)| {
            InstKind::Cas {
                addr,
                compare,
                source,
                on_fail,
            }
        }),
        label().prop_map(InstKind::Jump),
        (operand(), pred, operand(), label()).prop_map(|(lhs, predicate, rhs, target)| {
            InstKind::JumpIf {
                cond: Condition {
                    lhs,
                    predicate,
                    rhs,
                    span: Span::DUMMY,
                },
                target,
            }
        }),
        signature().prop_map(InstKind::Out),
        (cc(), prop::option::of(ty())).prop_map(|(cc, ret)| InstKind::In2Out {
            cc,
            ret,
            sig_span: Span::DUMMY
        }),
        (
            prop::sample::select(vec![CallKind::Call, CallKind::NoReturn, CallKind::Tail]),
            operand()
        )
            .prop_map(|(kind, target)| InstKind::Call { kind, target }),
        Just(InstKind::Ret),
        prop_oneof![
            Just(InstKind::PushM2n {
                method: None,
                frame_type: None,
                handles: false
            }),
            (operand(), prop::option::of(operand()), any::<bool>()).prop_map(
                |(m, frame_type, handles)| {
                    InstKind::PushM2n {
                        method: Some(m),
                        frame_type,
                        handles,
                    }
                }
            ),
        ],
        Just(InstKind::M2nSaveAll),
        Just(InstKind::PopM2n),
        (
            prop_oneof![
                ".*".prop_map(|s: String| PrintMessage::Text(s.into())),
                imm().prop_map(PrintMessage::Address)
            ],
            prop::option::of(operand())
        )
            .prop_map(|(message, operand)| InstKind::Print { message, operand }),
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_$][a-zA-Z0-9_$]{0,10}"
}

/// Renumber labels in order of first appearance, as the parser interns them.
fn renumber(body: Vec<InstKind>, names: Vec<String>) -> (Vec<Instruction>, Vec<Box<str>>) {
    let mut map: Vec<Option<u32>> = vec![None; names.len()];
    let mut labels: Vec<Box<str>> = Vec::new();
    let mut fix = |l: &mut LabelRef| {
        let old = l.id.index();
        let new = *map[old].get_or_insert_with(|| {
            labels.push(names[old].clone().into());
            labels.len() as u32 - 1
        });
        l.id = LabelId(new);
    };
    let body = body
        .into_iter()
        .map(|mut kind| {
            match &mut kind {
                InstKind::Label(l) | InstKind::Jump(l) => fix(l),
                InstKind::JumpIf { target, .. } => fix(target),
                InstKind::Cas { on_fail, .. } => fix(on_fail),
                _ => {}
            }
            Instruction {
                kind,
                span: Span::DUMMY,
            }
        })
        .collect();
    (body, labels)
}

fn stub() -> impl Strategy<Value = Stub> {
    let entry_sig = prop_oneof![
        signature().prop_map(EntrySignature::Typed),
        cc().prop_map(|cc| EntrySignature::Arbitrary {
            cc,
            span: Span::DUMMY
        }),
    ];
    (
        0u32..=MAX_INDEX,
        entry_sig,
        prop::collection::vec(inst(), 0..40),
        prop::collection::hash_set(label_name(), 6..=6),
    )
        .prop_map(|(std_places, signature, body, names)| {
            let (body, labels) = renumber(body, names.into_iter().collect());
            Stub {
                entry: Entry {
                    std_places,
                    signature,
                    span: Span::DUMMY,
                },
                body,
                labels,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printed_stubs_parse_back_to_themselves(s in stub()) {
        let text = s.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(e.render("printed", &text)))?;
        prop_assert_eq!(parsed, s);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// `parse_with_into` over a stub left by another text (parsed, or
    /// failed) gives exactly what `parse` gives, and an error empties it.
    #[test]
    fn parsing_into_a_warm_stub_is_parsing(a in stub(), b in stub(), cut in 0usize..64) {
        let (text_a, text_b) = (a.to_string(), b.to_string());
        let mut warm = parse(&text_a).map_err(|e| TestCaseError::fail(e.render("a", &text_a)))?;
        // A broken text in between: `b` cut short, then an undefined word.
        let mut end = text_b.len().saturating_sub(cut);
        while !text_b.is_char_boundary(end) {
            end -= 1;
        }
        let broken = format!("{}\n?;", &text_b[..end]);
        for text in [&text_b, &text_a, &broken, &text_b] {
            let expected = parse(text);
            let got = parse_with_into(text, &[], &mut warm).map(|()| warm.clone());
            prop_assert_eq!(&got, &expected);
            if expected.is_err() {
                prop_assert!(warm.body.is_empty() && warm.labels.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn spans_of_a_parsed_stub_cover_their_text(s in stub()) {
        let text = s.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(e.render("printed", &text)))?;
        for (inst, line) in parsed.body.iter().zip(text.lines().skip(1)) {
            prop_assert_eq!(&text[inst.span.range()], line);
        }
    }
}

/// Fuzzer `check` (fuzz/findings/check-print-offset-min): printing an
/// address whose offset is `i128::MIN` negated it and overflowed. Numbers
/// only an AST built in code can hold print without a panic (and parse
/// back to an error, not a different stub, where they are out of range).
#[test]
fn extreme_offsets_and_immediates_print() {
    let mut stub = lil_syntax::parse("entry 0:platform:pint:g8; ld r, [i0+8:g8]; r = 1; ret;")
        .expect("parses");
    for (v, printed) in [
        (i128::MIN, "[i0-0x80000000000000000000000000000000:g8]"),
        (i128::MIN + 1, "[i0-0x7fffffffffffffffffffffffffffffff:g8]"),
        (i128::MAX, "[i0+0x7fffffffffffffffffffffffffffffff:g8]"),
        (-70000, "[i0-0x11170:g8]"),
        (-5, "[i0-5:g8]"),
    ] {
        if let InstKind::Ld { addr, .. } = &mut stub.body[0].kind {
            addr.offset = v;
        }
        if let InstKind::Move { src, .. } = &mut stub.body[1].kind {
            src.kind = OperandKind::Imm(v);
        }
        let text = stub.to_string();
        assert!(text.contains(printed), "{text}");
        match lil_syntax::parse(&text) {
            Ok(back) => assert_eq!(back, stub, "{text}"),
            Err(e) => assert!(v.unsigned_abs() > u64::MAX as u128, "{v}: {e:?}"),
        }
    }
}

/// An AST built in code may set a frame type, or handles, without a method
/// (the syntax cannot: the method comes first). The printer writes the
/// omitted method as the `0` it means, so nothing is lost: the reparsed
/// stub differs only in spelling the method out.
#[test]
fn push_m2n_without_a_method_keeps_its_frame_type_and_handles() {
    let mut stub =
        lil_syntax::parse("entry 0:platform::void; push_m2n 5, 7, handles; pop_m2n; ret;")
            .expect("parses");
    let InstKind::PushM2n { method, .. } = &mut stub.body[0].kind else {
        panic!("not push_m2n");
    };
    *method = None;
    let text = stub.to_string();
    assert!(text.contains("push_m2n 0, 7, handles;"), "{text}");
    let back = lil_syntax::parse(&text).expect("parses back");
    let InstKind::PushM2n {
        method,
        frame_type,
        handles,
    } = &back.body[0].kind
    else {
        panic!("not push_m2n");
    };
    assert_eq!(method.map(|m| m.kind), Some(OperandKind::Imm(0)));
    assert_eq!(frame_type.map(|t| t.kind), Some(OperandKind::Imm(7)));
    assert!(handles);
}

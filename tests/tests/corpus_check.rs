//! Every DRLVM corpus stub, directives filled, passes the checker; where our
//! stricter rules reject one, the rule, the DRLVM bug it reflects and the
//! fix that makes the stub valid are listed here and tested both ways.
//! Every stub that checks also compiles for x86-64 and AArch64.

use lil_codegen::Backend;
use lil_syntax::{MethodSig, ValueKind};
use lil_tests::corpus::{CorpusStub, corpus_or_skip, sample_method};

/// The Java method behind `%0m`/`%0j` where it is not the sample
/// `int m(Object, int)`.
fn method_for(file: &str) -> MethodSig {
    use ValueKind::*;
    let (is_static, params, result) = match &file[..2] {
        // FileInputStream.readInternal(Object, int, byte[], int, int): int
        "39" => (true, vec![Reference, Int, Reference, Int, Int], Int),
        // System.currentTimeMillis(): long
        "40" => (true, vec![], Long),
        // Class.newInstance(): Object
        "41" => (false, vec![], Reference),
        // Object.getClass(): Class
        "42" => (false, vec![], Reference),
        // System.arraycopy(Object, int, Object, int, int)
        "43" | "44" => (true, vec![Reference, Int, Reference, Int, Int], Void),
        _ => return sample_method(),
    };
    MethodSig {
        is_static,
        params,
        result,
    }
}

/// `%Ni` values where they must be specific (variable indices of the JNI
/// wrapper: the header comments of `01` give them); everything else is 8.
fn sample(file: &str, piece: usize, n: usize) -> i128 {
    match (&file[..2], piece, n) {
        // reference argument i=1: jc i1=0:ref,..; o2=l0+off; ..; o2=0
        ("01", 7, 0) => 1,
        ("01", 7, 1) | ("01", 7, 3) => 2,
        // primitive argument i=2: o3=i2
        ("01", 8, 0) => 3,
        ("01", 8, 1) => 2,
        _ => 8,
    }
}

/// The native-stub overrides end at the label where DRLVM's JNI wrapper
/// continued; this tail stands for that slow path.
fn tail(file: &str) -> Option<&'static str> {
    matches!(&file[..2], "41" | "42" | "43" | "44").then_some("tailcall 0x7000;")
}

/// A stub our checker rejects where DRLVM's did not (or could not tell).
struct Rejected {
    file: &'static str,
    /// The codes of the unpatched stub, in order.
    codes: &'static [&'static str],
    /// The rule and the DRLVM bug it reflects.
    why: &'static str,
    /// Text replacements (in the filled pieces) that make it valid.
    fix: &'static [(&'static str, &'static str)],
}

const REJECTED: &[Rejected] = &[
    Rejected {
        file: "41_nso_newinstance.lil",
        codes: &["E0225", "E0230"],
        why: "E0225 (casts only relabel values of the same width): `l3:pint` casts a g4 to a pint; DRLVM's cast \
              check was vacuous (reference C7) and its em64t generator used 64-bit registers whatever the type. \
              E0230 (local types must agree at a join): at `fallback`, l1 is the g1 class flag on one path and \
              the thread pointer on the other; DRLVM's own merge rule rejects this too.",
        fix: &[
            ("ld l1,[l0+%0i:g1];", "ld l1,[l0+%0i:g1],zx;"),
            ("ld l3,[l0+%0i:g4];", "ld l3,[l0+%0i:g4],zx;"),
            ("l3=l3:pint+r:pint;", "l3=l3+r:pint;"),
        ],
    },
    Rejected {
        file: "44_nso_char_array_copy_ia32.lil",
        codes: &[
            "E0225", "E0225", "E0225", "E0225", "E0225", "E0225", "E0230",
        ],
        why: "E0225: `l0:g4` narrows a pint and `i1:pint` widens a g4 by a cast; DRLVM's cast check was vacuous \
              (C7), and on IA-32 g4 and pint had the same width. E0230: at `slowpath`, l0 is a ref on the first \
              path and a pint later, l1 a ref, a pint and then a g4; DRLVM's merge rule rejects that too (its \
              comment `locals 0 is to satisfy LIL validity checker` shows the authors fighting the same rule). \
              The fix compares the arrays directly, keeps the 32-bit lengths and indices in l2/l3 as g4, and \
              widens ints with sx4.",
        fix: &[
            ("locals 2;", "locals 4;"),
            ("l0=i0;\njc l0=%0i,slowpath;", "jc i0=%0i,slowpath;"),
            ("l1=i2;\njc l1=%1i,slowpath;", "jc i2=%1i,slowpath;"),
            ("ld l0,[l0+%2i:pint];", "ld l0,[i0+%2i:pint];"),
            ("ld l1,[l1+%4i:pint];", "ld l1,[i2+%4i:pint];"),
            ("l1 = i1;", "l3 = i1;"),
            ("l1 = i3;", "l3 = i3;"),
            ("jc l1<0:g4,slowpath;", "jc l3<0:g4,slowpath;"),
            ("ld l0,[i0+%5i:pint];", "ld l2,[i0+%5i:g4];"),
            ("ld l0,[i2+%6i:pint];", "ld l2,[i2+%6i:g4];"),
            ("l1 = l1+i4;", "l3 = l3+i4;"),
            ("jc l0:g4<l1,slowpath;", "jc l2<l3,slowpath;"),
            ("l0 = i1:pint<<1;", "l0 = sx4 i1; l0 = l0<<1;"),
            ("l1 = i3:pint<<1;", "l1 = sx4 i3; l1 = l1<<1;"),
            ("o2 = i4:pint<<1;", "o2 = sx4 i4; o2 = o2<<1;"),
        ],
    },
];

fn build(stub: &CorpusStub) -> Result<(lil_syntax::Stub, String), String> {
    if stub.is_fragments() {
        return stub
            .build_fragments()
            .map_err(|(k, e, src)| format!("fragment {k}: {}", e.render(&stub.name, &src)));
    }
    let mut stub = stub.clone();
    if let Some(t) = tail(&stub.name) {
        stub.pieces.push(t.to_owned());
    }
    let method = method_for(&stub.name);
    let name = stub.name.clone();
    match stub.build_with_method(&method, &|piece, n| sample(&name, piece, n)) {
        Ok(s) => {
            let src = s.to_string();
            Ok((s, src))
        }
        Err((k, e, src)) => Err(format!("piece {k}: {}", e.render(&name, &src))),
    }
}

#[test]
fn every_corpus_stub_checks() {
    let Some(files) = corpus_or_skip("every_corpus_stub_checks") else {
        return;
    };
    let mut failures = Vec::new();
    let mut compiled = 0;
    for path in &files {
        let mut stub = CorpusStub::load(path).expect("readable corpus file");
        let rejected = REJECTED.iter().find(|r| r.file == stub.name);
        if let Some(r) = rejected {
            // The unpatched stub fails with exactly the rules named.
            let (s, src) = build(&stub).unwrap_or_else(|e| panic!("{e}"));
            match lil_check::check(&s) {
                Ok(_) => {
                    failures.push(format!("{}: expected {:?} ({})", stub.name, r.codes, r.why))
                }
                Err(d) => {
                    let codes: Vec<_> = d.errors().map(|e| e.code()).collect();
                    if codes != r.codes {
                        failures.push(format!(
                            "{}: expected {:?}, got {codes:?}\n{}",
                            stub.name,
                            r.codes,
                            d.render(&stub.name, &src)
                        ));
                    }
                }
            }
            for (old, new) in r.fix {
                let hits = stub.pieces.iter().filter(|p| p.contains(old)).count();
                assert!(hits >= 1, "{}: fix `{old}` matches nothing", stub.name);
                for p in &mut stub.pieces {
                    *p = p.replace(old, new);
                }
            }
        }
        match build(&stub) {
            Err(e) => failures.push(format!("{}: does not parse: {e}", stub.name)),
            Ok((s, src)) => match lil_check::check(&s) {
                Err(d) => failures.push(format!(
                    "{} is rejected:\n{}",
                    stub.name,
                    d.render(&stub.name, &src)
                )),
                // What checks compiles, on both targets.
                Ok(checked) => {
                    let env = lil_codegen::HostEnv::default();
                    let backends: [(&str, &dyn Backend); 2] = [
                        ("x86-64", &lil_codegen_x64::X64Backend),
                        ("AArch64", &lil_codegen_arm64::Arm64Backend),
                    ];
                    for (target, backend) in backends {
                        match backend.compile(&checked, &env) {
                            Ok(code) if !code.code.is_empty() => compiled += 1,
                            Ok(_) => failures.push(format!("{}: no {target} code", stub.name)),
                            Err(e) => {
                                failures.push(format!("{}: {target} backend: {e}", stub.name))
                            }
                        }
                    }
                }
            },
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus stubs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        compiled,
        2 * files.len(),
        "every stub compiled on both targets"
    );
}

//! Every DRLVM corpus stub parses (issue: front end, conformance).

use lil_tests::corpus::{CorpusStub, corpus_or_skip};

#[test]
fn every_corpus_stub_parses_and_round_trips() {
    let Some(files) = corpus_or_skip("every_corpus_stub_parses_and_round_trips") else {
        return;
    };
    assert_eq!(files.len(), 72, "the corpus has 72 stubs");
    let mut failures = Vec::new();
    for path in &files {
        let stub = CorpusStub::load(path).expect("readable corpus file");
        let parsed = if stub.is_fragments() {
            stub.build_fragments().map(|(s, _)| s)
        } else {
            stub.build()
        };
        match parsed {
            Ok(s) => {
                let printed = s.to_string();
                match lil_syntax::parse(&printed) {
                    Ok(again) => {
                        assert_eq!(again, s, "{} does not round-trip:\n{printed}", stub.name)
                    }
                    Err(e) => failures.push(format!(
                        "{}: printed form does not parse: {}\n{printed}",
                        stub.name,
                        e.render("printed", &printed)
                    )),
                }
            }
            Err((k, e, src)) => failures.push(format!(
                "{} piece {k}:\n{}",
                stub.name,
                e.render(&stub.name, &src)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus stubs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `02` is a set of fragments: each is parsed onto the end of one stub,
/// the `//|` alternatives too, among them a null check whose `%n %o %g`
/// labels resolve only across appends.
#[test]
fn fragments_are_parsed_onto_the_end_with_their_alternatives() {
    let Some(files) = corpus_or_skip("fragments_are_parsed_onto_the_end_with_their_alternatives")
    else {
        return;
    };
    let path = files
        .iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("02_"))
        })
        .expect("the corpus has 02");
    let stub = CorpusStub::load(path).expect("readable");
    let (s, source) = stub
        .build_fragments()
        .unwrap_or_else(|(k, e, src)| panic!("fragment {k}: {}", e.render("02", &src)));
    let labels = s
        .body
        .iter()
        .filter(|i| matches!(i.kind, lil_syntax::InstKind::Label(_)))
        .count();
    let jumps = s
        .body
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                lil_syntax::InstKind::JumpIf { .. } | lil_syntax::InstKind::Jump(_)
            )
        })
        .count();
    assert_eq!((labels, jumps), (2, 2), "{source}");
    if let Err(d) = lil_check::check(&s) {
        panic!("{}", d.render("02", &s.to_string()));
    }
}

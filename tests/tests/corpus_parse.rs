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
            lil_syntax::parse(&stub.fragments_as_stub())
                .map_err(|e| (0, e, stub.fragments_as_stub()))
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

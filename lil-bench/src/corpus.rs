//! The DRLVM corpus (`../shared/corpus/drlvm/*.lil`) as parse workload.
//!
//! The files are read by the conformance tests' loader
//! ([`lil_tests::corpus`]: pieces split at `// ---- call` markers,
//! `<placeholders>` filled); here whole-line `//` comments and blank lines
//! are then dropped, so that the bytes counted are LIL, not commentary, and
//! each piece's `%N` directive kinds are found before anything is timed.
//!
//! Invariant: [`Corpus::parse_all`] parses exactly the bytes
//! [`Corpus::bytes`] counts, piece by piece through `StubBuilder`, as DRLVM
//! did (first piece, then parse-onto-end).

use lil_syntax::{Arg, MethodSig, StubBuilder};
use lil_tests::corpus::{CorpusStub, corpus_files, directive_kinds, sample_method};

pub use lil_tests::corpus::corpus_dir;

/// One piece of a stub: its text and its directive kinds by argument number.
struct Piece {
    text: String,
    kinds: Vec<Option<u8>>,
}

/// The loaded corpus.
pub struct Corpus {
    /// Per stub, its pieces in parse order.
    stubs: Vec<Vec<Piece>>,
    method: MethodSig,
    bytes: usize,
}

impl Corpus {
    /// Load every stub of the corpus at [`corpus_dir`] (the fragment file
    /// `02` is not a stub); `None` if there is none or a file cannot be
    /// read.
    pub fn load() -> Option<Corpus> {
        let mut stubs: Vec<Vec<Piece>> = Vec::new();
        for path in corpus_files()? {
            let stub = CorpusStub::load(&path).ok()?;
            if stub.is_fragments() {
                continue;
            }
            stubs.push(stub.pieces.iter().map(|p| code_only(p)).collect());
        }
        let bytes = stubs.iter().flatten().map(|p| p.text.len()).sum();
        (!stubs.is_empty()).then(|| Corpus {
            stubs,
            method: sample_method(),
            bytes,
        })
    }

    /// Bytes of LIL text parsed by [`Corpus::parse_all`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of stubs.
    pub fn stubs(&self) -> usize {
        self.stubs.len()
    }

    /// Parse every stub; returns how many parsed (all of them, unless the
    /// corpus and the parser disagree).
    pub fn parse_all(&self) -> usize {
        let mut parsed = 0;
        let mut args: Vec<Arg<'_>> = Vec::new();
        for pieces in &self.stubs {
            let mut builder: Option<StubBuilder> = None;
            let mut ok = true;
            for piece in pieces {
                args.clear();
                args.extend(piece.kinds.iter().map(|k| match k {
                    Some(b'm') | Some(b'j') => Arg::method(&self.method),
                    _ => Arg::Int(1),
                }));
                let result = match &mut builder {
                    None => StubBuilder::new(&piece.text, &args).map(|b| builder = Some(b)),
                    Some(b) => b.append(&piece.text, &args),
                };
                ok &= result.is_ok();
            }
            if let (true, Some(b)) = (ok, builder) {
                std::hint::black_box(b.finish());
                parsed += 1;
            }
        }
        parsed
    }
}

/// A piece without its whole-line comments and blank lines.
fn code_only(piece: &str) -> Piece {
    let text: String = piece
        .lines()
        .filter(|l| !(l.trim().is_empty() || l.trim_start().starts_with("//")))
        .flat_map(|l| [l, "\n"])
        .collect();
    let kinds = directive_kinds(&text);
    Piece { text, kinds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_parses_if_present() {
        // A visible SKIP without the corpus, a failure under `CI=true`.
        if lil_tests::corpus::corpus_or_skip("the_corpus_parses_if_present").is_none() {
            return;
        }
        let corpus = Corpus::load().expect("the corpus loads");
        assert_eq!(corpus.parse_all(), corpus.stubs());
        assert!(corpus.bytes() > 10_000);
    }
}

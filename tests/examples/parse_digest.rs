//! A digest of everything the parser answers for a fixed set of texts: one
//! line per input with a hash of the `Debug` text of every result (the
//! stub, or the errors) and of the rendered diagnostics (codes, spans,
//! messages), then a line hashing them all.
//!
//! Speed work on `lil-syntax` must not change a single answer, error paths
//! included; this is how that is shown. Run it before and after and
//! compare:
//!
//! ```text
//! cargo run --release -p lil-tests --example parse_digest > /tmp/before
//! # ... change the parser ...
//! cargo run --release -p lil-tests --example parse_digest | diff /tmp/before -
//! ```
//!
//! When a line differs, `-v` prints one line per variant (the input, each
//! mutation, each entry point) so the changed answer can be found:
//! `parse_digest -v [N]`.
//!
//! The inputs: the repository's `examples/*.lil`; the `%Ni` texts of the
//! benchmark stubs (read from `lil-bench/src/stubs.rs`); the raw text of
//! every file of the DRLVM corpus and each of its pieces
//! ([`CorpusStub`]), plus the corpus stubs built piece by piece and the
//! fragment file appended fragment by fragment; the differential tests'
//! stubs and `N` generated cases (main and tail; default 3000, or the
//! first argument). Each input is parsed as it is and after
//! [`MUTATIONS`] deterministic mutations (bytes and tokens deleted,
//! duplicated, replaced or inserted; truncation), so the error paths and
//! their spans are covered too.
//!
//! Each text goes through every entry point: `parse` (or `parse_bytes`
//! when a mutation broke the UTF-8), `parse_with` with values for the
//! text's `%Ni`/`%Nm`/`%Nj` directives (small integers, and for unmutated
//! texts also large ones that are out of range for indices and counts),
//! `StubBuilder::new`, and `StubBuilder::append` after an entry fragment
//! (spans shifted by a base, the label counter carried).
//!
//! `parse_with_into` is checked rather than hashed, so the output stays
//! that of the entry points above: each of its results, into one stub
//! that every earlier (different) text was parsed into, successfully or
//! not, must be exactly `parse_with`'s, and an error must leave the stub
//! empty.

use std::hash::{DefaultHasher, Hash, Hasher};

use lil_syntax::{Arg, Stub, StubBuilder, SyntaxErrors};
use lil_tests::corpus::{CorpusStub, corpus_files, note_directive_kinds, sample_method};
use lil_tests::differential::{
    example_texts, generated_texts, helper_stub_texts, placeholder_names, word_stream,
};

/// Mutated variants parsed for each input.
const MUTATIONS: u64 = 24;

/// The fragment `append` parses each text after.
const START: &str = "entry 0:managed:ref,g4:void;\njc i0=0,%g;\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let n: u64 = args.iter().find_map(|s| s.parse().ok()).unwrap_or(3000);
    let mut inputs: Vec<(String, String)> = Vec::new();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

    inputs.extend(example_texts());
    let bench =
        std::fs::read_to_string(format!("{root}/lil-bench/src/stubs.rs")).unwrap_or_default();
    for (name, text) in bench_texts(&bench) {
        inputs.push((name, text));
    }

    let mut all = DefaultHasher::new();
    let mut corpus = Vec::new();
    for path in corpus_files().unwrap_or_default() {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Ok(text) = std::fs::read_to_string(&path) {
            inputs.push((name.clone(), text));
        }
        if let Ok(stub) = CorpusStub::load(&path) {
            for (k, piece) in stub.pieces.iter().enumerate() {
                inputs.push((format!("{name}#{k}"), piece.clone()));
            }
            corpus.push(stub);
        }
    }
    // Whole corpus stubs, piece onto piece (the `dyn` instance of the
    // parser and parse-onto-end), with two sets of sample values.
    for stub in &corpus {
        let mut h = DefaultHasher::new();
        for sample in [sample_small as fn(usize, usize) -> i128, sample_large] {
            digest_build(&stub.build_with(&sample), &mut h);
        }
        if stub.is_fragments() {
            match stub.build_fragments() {
                Ok((s, source)) => format!("{s:?}{source}").hash(&mut h),
                Err(e) => digest_build(&Err(e), &mut h),
            }
        }
        let digest = h.finish();
        digest.hash(&mut all);
        println!("build {}: {digest:016x}", stub.name);
    }

    let names = placeholder_names();
    inputs.extend(helper_stub_texts(&names));
    // Many labels (named, `$`-named and `%g %p %n %o`): beyond the
    // parser's linear search.
    inputs.push(("labels".to_owned(), many_labels(40)));
    inputs.extend(generated_texts(n, &names));

    let method = sample_method();
    // Any stub to start from: each text is then parsed into what the one
    // before left.
    let mut warm = lil_syntax::parse(START).expect("START parses");
    let mut parses = 0usize;
    for (index, (name, text)) in inputs.iter().enumerate() {
        let kinds = directive_kinds(text);
        let mut h = DefaultHasher::new();
        let mut ok = 0;
        for m in 0..=MUTATIONS {
            let bytes = if m == 0 {
                text.as_bytes().to_vec()
            } else {
                mutate(text.as_bytes(), index as u64 * 1000 + m)
            };
            let mut samples: Vec<fn(usize, usize) -> i128> = vec![sample_small];
            if m == 0 {
                samples.push(sample_large);
            }
            let mut v = DefaultHasher::new();
            let (good, count) = digest_text(&bytes, &kinds, &method, &samples, &mut warm, &mut v);
            ok += good;
            parses += count;
            let digest = v.finish();
            digest.hash(&mut h);
            if verbose {
                println!("  {name} m{m}: {digest:016x}");
            }
        }
        let digest = h.finish();
        digest.hash(&mut all);
        println!("{name}: {digest:016x} ok {ok}");
    }
    println!("inputs {} parses {parses}", inputs.len());
    println!("all: {:016x}", all.finish());
}

/// Parse `bytes` through every entry point and hash the answers; returns
/// how many answers were a stub, and how many parses were made. `warm` is
/// the stub every `parse_with_into` parses into, left by the one before.
fn digest_text(
    bytes: &[u8],
    kinds: &[Option<u8>],
    method: &lil_syntax::MethodSig,
    samples: &[fn(usize, usize) -> i128],
    warm: &mut Stub,
    h: &mut DefaultHasher,
) -> (usize, usize) {
    let mut ok = 0;
    let mut count = 0;
    let Ok(text) = std::str::from_utf8(bytes) else {
        let result = lil_syntax::parse_bytes(bytes);
        ok += usize::from(result.is_ok());
        digest_result(&result, &String::from_utf8_lossy(bytes), h);
        return (ok, 1);
    };
    let result = lil_syntax::parse(text);
    ok += usize::from(result.is_ok());
    count += 1;
    digest_result(&result, text, h);
    assert_into_same(text, &[], &result, warm);
    let mut arg_sets: Vec<Vec<Arg<'_>>> = vec![Vec::new()];
    if !kinds.is_empty() {
        for sample in samples {
            let args: Vec<Arg<'_>> = kinds
                .iter()
                .enumerate()
                .map(|(n, k)| match k {
                    Some(b'm' | b'j') => Arg::method(method),
                    _ => Arg::Int(sample(0, n)),
                })
                .collect();
            let result = lil_syntax::parse_with(text, &args);
            ok += usize::from(result.is_ok());
            count += 1;
            digest_result(&result, text, h);
            assert_into_same(text, &args, &result, warm);
            arg_sets.push(args);
        }
    }
    for args in &arg_sets {
        // The `dyn` instance of the parser: a first fragment...
        // (The builder is seen through `finish`: its `Debug` shows a
        // label index whose order is random.)
        match StubBuilder::new(text, args) {
            Ok(b) => format!("{:?}", b.finish()).hash(h),
            Err(e) => digest_errors(&e, text, h),
        }
        // ... and one parsed onto the end of another.
        if let Ok(mut b) = StubBuilder::new(START, &[]) {
            let source = format!("{START}\n{text}");
            if let Err(e) = b.append(text, args) {
                digest_errors(&e, &source, h);
            }
            b.source().hash(h);
            format!("{:?}", b.finish()).hash(h);
        }
        count += 2;
    }
    (ok, count)
}

/// `parse_with_into(text, args)` into `warm`, whatever it holds, gives
/// `expected` (`parse_with`'s answer), and an error leaves `warm` empty.
fn assert_into_same(
    text: &str,
    args: &[Arg<'_>],
    expected: &Result<Stub, SyntaxErrors>,
    warm: &mut Stub,
) {
    match (lil_syntax::parse_with_into(text, args, warm), expected) {
        (Ok(()), Ok(stub)) => assert_eq!(warm, stub, "parse_with_into: {text:?}"),
        (Err(errors), Err(expected)) => {
            assert_eq!(&errors, expected, "parse_with_into: {text:?}");
            assert!(
                warm.body.is_empty() && warm.labels.is_empty(),
                "parse_with_into left a stub after an error: {text:?}"
            );
        }
        (got, _) => panic!("parse_with_into: {got:?} but parse_with: {expected:?} for {text:?}"),
    }
}

fn digest_result(
    result: &Result<lil_syntax::Stub, SyntaxErrors>,
    source: &str,
    h: &mut DefaultHasher,
) {
    format!("{result:?}").hash(h);
    if let Err(e) = result {
        digest_errors(e, source, h);
    }
}

fn digest_errors(errors: &SyntaxErrors, source: &str, h: &mut DefaultHasher) {
    format!("{errors:?}").hash(h);
    errors.render("input.lil", source).hash(h);
}

fn digest_build(
    result: &Result<lil_syntax::Stub, (usize, SyntaxErrors, String)>,
    h: &mut DefaultHasher,
) {
    match result {
        Ok(stub) => format!("{stub:?}").hash(h),
        Err((k, e, source)) => {
            k.hash(h);
            digest_errors(e, source, h);
        }
    }
}

/// `%Ni` values that fit every use (indices, counts, sizes, immediates).
fn sample_small(_piece: usize, n: usize) -> i128 {
    [8, 16, 1, 0, 24, 3, 4096, 2][n % 8]
}

/// `%Ni` values that only an immediate takes (addresses, negatives, huge).
fn sample_large(_piece: usize, n: usize) -> i128 {
    [
        0x7f00_0000_1000,
        -1,
        1 << 40,
        u64::MAX as i128,
        70_000,
        -(1 << 63),
        1 << 64,
    ][n % 7]
}

/// The kind letter of each `%N` directive of `text` (`None` for an index
/// no directive names), comments included: unlike
/// `lil_tests::corpus::directive_kinds`, which skips `//` comments, so that
/// a mutation that makes or breaks a comment does not change the arguments.
fn directive_kinds(text: &str) -> Vec<Option<u8>> {
    let mut kinds = Vec::new();
    note_directive_kinds(text, &mut kinds);
    kinds
}

/// Tokens a mutation inserts or puts in place of another.
const TOKENS: &[&str] = &[
    ";",
    ",",
    ":",
    "[",
    "]",
    "+",
    "-",
    "*",
    "=",
    "==",
    "!=",
    "<u",
    ">=u",
    ">>u",
    "<<",
    "%0i",
    "%1i",
    "%9i",
    "%12i",
    "%0m",
    "%0j",
    "%g",
    "%p",
    "%n",
    "%o",
    "%x",
    "%",
    "{x}",
    "{",
    "l0",
    "i1",
    "o%0i",
    "sp0",
    "r",
    "l99999",
    "i65536",
    "0",
    "-1",
    "0x10",
    "0xfffffffffffffffff",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901",
    "12ab",
    "ts",
    "zx4",
    "neg",
    "ld",
    "st",
    "inc",
    "cas",
    "jc",
    "j",
    "call",
    "call.noret",
    "tailcall",
    "ret",
    "locals",
    "alloc",
    "entry",
    "push_m2n",
    "pop_m2n",
    "handles",
    "print",
    "'hi\\n'",
    "'",
    "in2out",
    "out",
    "platform",
    "managed",
    "arbitrary",
    "g4",
    "pint",
    "ref",
    "f8",
    "void",
    "std_places",
    "m2n_save_all",
    ":ref",
    ",acquire",
    ",sx",
    " ",
    "\n",
    "//",
    "// c\n",
    "é",
    "$lab",
    "lab",
];

/// One deterministic mutation of `text`, chosen by `seed`.
fn mutate(text: &[u8], seed: u64) -> Vec<u8> {
    let words = word_stream(seed, 8);
    let len = text.len();
    let at = |k: usize| {
        if len == 0 {
            0
        } else {
            words[k] as usize % (len + 1)
        }
    };
    let mut out = text.to_vec();
    let pos = at(1);
    let token = TOKENS[words[2] as usize % TOKENS.len()].as_bytes();
    match words[0] % 8 {
        0 => {
            if pos < len {
                out.remove(pos);
            }
        }
        1 => {
            let end = (pos + 1 + words[3] as usize % 12).min(len);
            out.drain(pos..end);
        }
        2 => {
            let end = (pos + 1 + words[3] as usize % 16).min(len);
            let piece = text[pos..end].to_vec();
            out.splice(pos..pos, piece);
        }
        3 => {
            const BYTES: &[u8] = b";,:[]+-*=<>%{}'/\\ \n\tx0179ailorsp.$\xc3\xa9\xff\x00";
            if pos < len {
                out[pos] = BYTES[words[3] as usize % BYTES.len()];
            }
        }
        4 | 5 => {
            // Replace the token (a word or one other byte) at a
            // boundary near `pos`.
            let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
            let mut start = pos.min(len);
            while start > 0 && start < len && word(text[start]) && word(text[start - 1]) {
                start -= 1;
            }
            let mut end = start;
            while end < len && word(text[end]) {
                end += 1;
            }
            if end == start && end < len {
                end += 1;
            }
            out.splice(start..end, token.iter().copied());
        }
        6 => {
            out.splice(pos..pos, token.iter().copied());
        }
        _ => out.truncate(pos),
    }
    out
}

/// The `pub const NAME_TEXT: &str = "...";` texts of the benchmark stubs
/// (they hold no `\` or `"`).
fn bench_texts(source: &str) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("pub const ") {
        rest = &rest[at + "pub const ".len()..];
        let Some((name, after)) = rest.split_once(": &str = \"") else {
            break;
        };
        if name.contains(char::is_whitespace) || !name.ends_with("_TEXT") {
            continue;
        }
        let Some(end) = after.find('"') else { break };
        texts.push((format!("bench {name}"), after[..end].to_owned()));
        rest = &after[end..];
    }
    texts
}

/// A stub with `3 * n` labels, each used before and after its definition.
fn many_labels(n: usize) -> String {
    let mut text = String::from("entry 0:platform:pint,pint:pint;\nlocals 4;\nl0 = i0;\n");
    for k in 0..n {
        text.push_str(&format!(
            "jc l0 = {k}, L{k};\nj $x{k};\n:$x{k};\njc l0 = 0, %n;\n:%g;\nl0 = l0 + 1;\n:L{k};\nj L{k};\n"
        ));
    }
    text.push_str("r = l0;\nret;\n");
    text
}

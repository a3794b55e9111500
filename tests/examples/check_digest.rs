//! A digest of everything the checker says about a fixed set of stubs:
//! one line per input with a hash of the whole observable result.
//!
//! Speed work on `lil-check` must not change what it computes; this is how
//! that is shown. Run it before a change and after, and compare:
//!
//! ```text
//! cargo run --release -p lil-tests --example check_digest > /tmp/before
//! # ... change the checker ...
//! cargo run --release -p lil-tests --example check_digest | diff /tmp/before -
//! ```
//!
//! The result of a valid stub is everything the [`lil_check::CheckedStub`]
//! API shows: the stub, for every instruction (and one past the end)
//! whether it is reachable, its block, span and operation type and the
//! whole context before it (standard places, locals, output area, M2N
//! state, `r`, bytes allocated), the blocks and their successors, the
//! summary and the warnings (codes, spans, messages, rendered text). The
//! derived `Debug` of `CheckedStub` shows nothing more, only the internal
//! layout of the same facts (which speed work may change). The result of
//! an invalid stub is every diagnostic: code, span, message, its
//! `Diagnostic` and the rendered text.
//!
//! The inputs: the repository's `examples/*.lil`; `N` generated
//! differential cases (main and tail; default 3000, or the first
//! argument); the DRLVM corpus when it is found (built with the default
//! sample values, as `CorpusStub::build` does); a few large generated
//! stubs (many labels, many locals, a loop). Each input is checked as it
//! is and in `M` mutated forms that still parse (default 24, or the second
//! argument): a statement deleted, duplicated, swapped with the next or
//! copied over another, a variable, type, number or jump target replaced,
//! a label moved up or a new one inserted to make a jump go backward. The
//! mutants take the error paths, the one-pass checker's fall back to the
//! general fixpoint, and loops. The last lines count what was covered and
//! hash everything.
//!
//! Every input is also checked by one [`lil_check::Checker`] reused
//! across all of them (after valid and invalid stubs, with the buffers of
//! checked stubs recycled into it, its own and `check_owned`'s), and the
//! digest asserts that it gives exactly `check_owned`'s answer: the same
//! description of the `CheckedStub`, or equal diagnostics. So the printed
//! lines hash the reusable entry point too, without changing.

use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};

use lil_check::{CheckError, CheckedStub, Checker, Diagnostics};
use lil_syntax::{InstKind, Stub};
use lil_tests::corpus::{CorpusStub, corpus_files};
use lil_tests::differential::{
    example_texts, generated_texts, helper_stub_texts, placeholder_names,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3000);
    let mutants: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(24);
    let names = placeholder_names();
    let mut inputs: Vec<(String, String)> = Vec::new();
    inputs.extend(example_texts());
    inputs.extend(helper_stub_texts(&names));
    inputs.extend(generated_texts(n, &names));
    for path in corpus_files().unwrap_or_default() {
        let Ok(stub) = CorpusStub::load(&path) else {
            continue;
        };
        let built = if stub.is_fragments() {
            stub.build_fragments().map(|(s, _)| s)
        } else {
            stub.build()
        };
        if let Ok(s) = built {
            inputs.push((format!("corpus/{}", stub.name), s.to_string()));
        }
    }
    for (name, text) in large_stubs() {
        inputs.push((name.to_owned(), text));
    }

    let mut all = DefaultHasher::new();
    let mut census = Census::default();
    let mut checker = Checker::new();
    for (name, text) in &inputs {
        let Ok(stub) = lil_syntax::parse(text) else {
            println!("{name}: does not parse");
            continue;
        };
        let line = digest(name, text, stub, &mut census, &mut checker);
        line.hash(&mut all);
        println!("{line}");
        // Mutants of the canonical text (one statement a line).
        let printed = match lil_syntax::parse(text) {
            Ok(s) => s.to_string(),
            Err(_) => continue,
        };
        let lines: Vec<&str> = printed.lines().collect();
        let mut rng = Rng::new(name);
        let mut made = 0;
        let mut tries = 0;
        while made < mutants && tries < 40 * mutants {
            tries += 1;
            let Some(mutant) = mutate(&lines, &mut rng) else {
                continue;
            };
            let Ok(stub) = lil_syntax::parse(&mutant) else {
                continue;
            };
            let line = digest(
                &format!("{name}#{made}"),
                &mutant,
                stub,
                &mut census,
                &mut checker,
            );
            line.hash(&mut all);
            println!("{line}");
            made += 1;
        }
    }
    let c = census;
    println!(
        "census: {} inputs; valid {} forward + {} looping; invalid {} forward + {} looping; {} errors",
        c.inputs, c.valid_forward, c.valid_loop, c.invalid_forward, c.invalid_loop, c.errors
    );
    println!("all: {:016x}", all.finish());
}

/// What the inputs covered.
#[derive(Default)]
struct Census {
    inputs: u64,
    valid_forward: u64,
    valid_loop: u64,
    invalid_forward: u64,
    invalid_loop: u64,
    errors: u64,
}

/// One input's line: its name, the outcome and a hash of the full result
/// (`check_owned`'s, asserted equal to the reused `checker`'s).
fn digest(
    name: &str,
    text: &str,
    stub: Stub,
    census: &mut Census,
    checker: &mut Checker,
) -> String {
    census.inputs += 1;
    let looping = jumps_backward(&stub);
    let mut out = String::new();
    let reused = checker.check(stub.clone());
    let owned = lil_check::check_owned(stub);
    let summary = match owned {
        Ok(c) => {
            if looping {
                census.valid_loop += 1;
            } else {
                census.valid_forward += 1;
            }
            describe_checked(&c, name, text, &mut out);
            let Ok(r) = reused else {
                panic!("{name}: check_owned accepts, a reused Checker rejects");
            };
            let mut again = String::new();
            describe_checked(&r, name, text, &mut again);
            assert!(again == out, "{name}: a reused Checker answers differently");
            let summary = format!("ok {} insts", c.stub().body.len());
            // Both checked stubs' buffers go back into the checker, for
            // the next inputs.
            let expected = c.stub().clone();
            assert!(
                checker.recycle(r) == expected,
                "{name}: recycle changed the stub"
            );
            checker.recycle(c);
            summary
        }
        Err(d) => {
            if looping {
                census.invalid_loop += 1;
            } else {
                census.invalid_forward += 1;
            }
            assert!(
                reused.as_ref().err() == Some(&d),
                "{name}: a reused Checker answers differently"
            );
            census.errors += d.errors().count() as u64;
            describe_diagnostics(&d, name, text, &mut out);
            format!("err {}", d.codes().join(","))
        }
    };
    let mut h = DefaultHasher::new();
    out.hash(&mut h);
    format!("{name}: {summary} {:016x}", h.finish())
}

/// Everything the `CheckedStub` API shows.
fn describe_checked(c: &CheckedStub, name: &str, text: &str, out: &mut String) {
    let _ = writeln!(out, "{:?}", c.stub());
    let n = c.stub().body.len();
    for i in 0..=n {
        let _ = write!(
            out,
            "{i}: reachable {} block {} span {:?} op {:?}",
            c.is_reachable(i),
            c.block_of(i),
            c.span(i),
            c.op_type(i)
        );
        if let Some(x) = c.context(i) {
            let _ = write!(out, " std {} [", x.num_std_places());
            for k in 0..=lil_check::MAX_STD_PLACES + 1 {
                let _ = write!(out, "{:?} ", x.std_place(k));
            }
            let _ = write!(out, "] locals {} [", x.num_locals());
            for k in 0..=x.num_locals() + 1 {
                let _ = write!(out, "{:?} ", x.local(k));
            }
            let _ = write!(
                out,
                "] out {:?} m2n {:?} r {:?} alloc {}",
                x.out(),
                x.m2n(),
                x.ret(),
                x.alloc_bytes()
            );
        }
        out.push('\n');
    }
    let blocks: Vec<_> = c.basic_blocks().collect();
    let _ = writeln!(out, "{blocks:?}\n{:?}\n{:?}", c.blocks(), c.summary());
    let warnings = Diagnostics {
        items: c.warnings().to_vec(),
    };
    describe_diagnostics(&warnings, name, text, out);
}

/// Every diagnostic: code, span, message, `Diagnostic`, rendered text.
fn describe_diagnostics(d: &Diagnostics, name: &str, text: &str, out: &mut String) {
    for e in &d.items {
        let _ = writeln!(
            out,
            "{} {:?} {} warning {} {e:?}\n{:?}",
            e.code(),
            e.span(),
            e,
            e.is_warning(),
            CheckError::to_diagnostic(e)
        );
    }
    let _ = writeln!(out, "{d}\n{}", d.render(name, text));
}

/// Whether some jump goes to a label declared above it.
fn jumps_backward(stub: &Stub) -> bool {
    let mut declared = vec![false; stub.labels.len()];
    for inst in &stub.body {
        match &inst.kind {
            InstKind::Label(l) => {
                if let Some(d) = declared.get_mut(l.id.index()) {
                    *d = true;
                }
            }
            InstKind::Jump(l)
            | InstKind::JumpIf { target: l, .. }
            | InstKind::Cas { on_fail: l, .. }
                if declared.get(l.id.index()).copied().unwrap_or(false) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// A deterministic generator of choices, seeded by the input's name.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Rng {
        let mut h = DefaultHasher::new();
        name.hash(&mut h);
        Rng(h.finish() | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 {
            0
        } else {
            (self.0 >> 16) as usize % n
        }
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const VARS: &[&str] = &[
    "l0", "l1", "l2", "l3", "l4", "l5", "l7", "l9", "l12", "i0", "i1", "i2", "i5", "o0", "o1",
    "o3", "sp0", "sp1", "sp2", "sp3", "r",
];
const TYPES: &[&str] = &["g1", "g2", "g4", "g8", "f4", "f8", "ref", "pint"];

/// The words of a line: maximal runs of letters, digits, `_` and `.`.
fn words(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, ch) in line.char_indices().chain([(line.len(), ' ')]) {
        let word = ch.is_ascii_alphanumeric() || ch == '_' || ch == '.';
        match (start, word) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    spans
}

fn is_var(w: &str) -> bool {
    w == "r"
        || ["l", "i", "o", "sp"].iter().any(|p| {
            w.strip_prefix(p)
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The label a line declares (`:name;`).
fn declared_label(line: &str) -> Option<&str> {
    line.strip_prefix(':')?.strip_suffix(';')
}

/// The label a jump line names (its last word), with its byte range.
fn jump_label(line: &str) -> Option<(usize, usize)> {
    let jumps = line.starts_with("j ") || line.starts_with("jc ") || line.starts_with("cas ");
    jumps.then(|| words(line).last().copied()).flatten()
}

/// One random mutation of the statements (`lines[0]` is the entry), or
/// `None` when the chosen one does not apply.
/// Replace the word of `line` at `s..e` with `w`.
fn replace_word(line: &mut String, (s, e): (usize, usize), w: &str) {
    line.replace_range(s..e, w);
}

/// Replace one of the words of `line` that `is_target` accepts (chosen by
/// `rng`) with one of `choices`; `None` when no word is a target.
fn replace_some_word(
    line: &mut String,
    rng: &mut Rng,
    is_target: impl Fn(&str) -> bool,
    choices: &[&str],
) -> Option<()> {
    let targets: Vec<_> = words(line)
        .into_iter()
        .filter(|&(s, e)| is_target(&line[s..e]))
        .collect();
    if targets.is_empty() {
        return None;
    }
    let at = targets[rng.below(targets.len())];
    let w = rng.pick(choices);
    replace_word(line, at, w);
    Some(())
}

fn mutate(lines: &[&str], rng: &mut Rng) -> Option<String> {
    let mut body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    if body.len() < 2 {
        return None;
    }
    let j = 1 + rng.below(body.len() - 1);
    let labels: Vec<String> = body
        .iter()
        .filter_map(|l| declared_label(l).map(str::to_owned))
        .collect();
    match rng.below(11) {
        0 => {
            body.remove(j);
        }
        1 => {
            let copy = body[j].clone();
            body.insert(j, copy);
        }
        2 => {
            if j + 1 >= body.len() {
                return None;
            }
            body.swap(j, j + 1);
        }
        3 => {
            let k = 1 + rng.below(body.len() - 1);
            body[j] = body[k].clone();
        }
        4 | 5 => {
            // A variable replaced.
            replace_some_word(&mut body[j], rng, is_var, VARS)?;
        }
        6 => {
            // A type replaced, in a statement or the entry.
            let j = if rng.below(4) == 0 { 0 } else { j };
            replace_some_word(&mut body[j], rng, |w| TYPES.contains(&w), TYPES)?;
        }
        7 => {
            // A number replaced, in a statement or the entry.
            let j = if rng.below(4) == 0 { 0 } else { j };
            let numbers = ["0", "1", "2", "3", "4", "5", "7", "9", "12", "300", "70000"];
            let is_number = |w: &str| w.bytes().all(|b| b.is_ascii_digit());
            replace_some_word(&mut body[j], rng, is_number, &numbers)?;
        }
        8 => {
            // A jump to another label (or to one never declared).
            let jumps: Vec<usize> = (1..body.len())
                .filter(|&k| jump_label(&body[k]).is_some())
                .collect();
            if jumps.is_empty() {
                return None;
            }
            let k = jumps[rng.below(jumps.len())];
            let at = jump_label(&body[k])?;
            let to = if labels.is_empty() || rng.below(8) == 0 {
                "nowhere".to_owned()
            } else {
                labels[rng.below(labels.len())].clone()
            };
            replace_word(&mut body[k], at, &to);
        }
        9 => {
            // A label moved above a jump to it: a backward jump.
            let jumps: Vec<usize> = (1..body.len())
                .filter(|&k| jump_label(&body[k]).is_some())
                .collect();
            if jumps.is_empty() {
                return None;
            }
            let k = jumps[rng.below(jumps.len())];
            let (s, e) = jump_label(&body[k])?;
            let name = body[k][s..e].to_owned();
            let from = (1..body.len()).find(|&m| declared_label(&body[m]) == Some(&name))?;
            let line = body.remove(from);
            let to = 1 + rng.below(k.min(body.len()).max(2) - 1);
            body.insert(to, line);
        }
        _ => {
            // A new label above a jump, which now goes there.
            let jumps: Vec<usize> = (1..body.len())
                .filter(|&k| jump_label(&body[k]).is_some())
                .collect();
            if jumps.is_empty() {
                return None;
            }
            let k = jumps[rng.below(jumps.len())];
            let at = jump_label(&body[k])?;
            replace_word(&mut body[k], at, "back");
            let to = 1 + rng.below(k);
            body.insert(to, ":back;".to_owned());
        }
    }
    let mut text = body.join("\n");
    text.push('\n');
    Some(text)
}

/// Large stubs: many labels (beyond any inline table), many locals
/// (beyond the inline contexts), and a loop.
fn large_stubs() -> Vec<(&'static str, String)> {
    let mut wide =
        String::from("entry 0:platform:pint,pint:pint;\nlocals 4;\nl0 = i0;\nl1 = i1;\n");
    for k in 0..170 {
        let _ = write!(
            wide,
            "l2 = l0 + l1;\nl3 = l2 ^ l0;\njc l3 = 0, L{k};\nld l1, [l0+8:pint];\nl0 = l3 + 1;\n:L{k};\n"
        );
    }
    wide.push_str("r = l0;\nret;\n");
    let mut many = String::from("entry 0:platform:pint,g4:pint;\nlocals 20;\n");
    for k in 0..20 {
        let _ = writeln!(many, "l{k} = i0;");
    }
    for k in 0..19 {
        let _ = write!(
            many,
            "l{} = l{k} + l{};\njc l{k} = 0, M{k};\nl{k} = sx4 i1;\n:M{k};\n",
            k + 1,
            k + 1
        );
    }
    many.push_str("r = l19;\nret;\n");
    let mut looping = String::from(
        "entry 0:platform:pint,pint:pint;\nlocals 12;\nl0 = i0;\nl1 = 0;\nl11 = 1;\n:top;\n",
    );
    for k in 2..11 {
        let _ = writeln!(looping, "l{k} = l{} + l11;", k - 1);
    }
    looping.push_str("l1 = l1 + 1;\njc l1 <u l0, top;\nr = l10;\nret;\n");
    vec![
        ("large.wide", wide),
        ("large.many", many),
        ("large.loop", looping),
    ]
}

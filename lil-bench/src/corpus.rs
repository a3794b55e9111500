//! The DRLVM corpus (`../shared/corpus/drlvm/*.lil`) as parse workload: the
//! loader of `tests/src/corpus.rs`, with whole-line `//` comments stripped
//! (so the bytes counted are LIL, not commentary), `<placeholders>` filled
//! and each file's `lil_parse_*` calls kept as separate pieces with their
//! `%N` directive arguments.
//!
//! Invariant: [`Corpus::parse_all`] parses exactly the bytes
//! [`Corpus::bytes`] counts, piece by piece through `StubBuilder`, as DRLVM
//! did (first piece, then parse-onto-end).

use std::path::{Path, PathBuf};

use lil_syntax::{Arg, MethodSig, StubBuilder, ValueKind};

/// Where the corpus is: `$LIL_DRLVM_CORPUS`, else `shared/corpus/drlvm`
/// beside the repository or one of its parents.
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIL_DRLVM_CORPUS") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/corpus/drlvm"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| manifest.join("../../shared/corpus/drlvm"))
}

/// One corpus file: its pieces and, per piece, the directive kinds
/// (`b'i'`, `b'm'`, `b'j'`) by argument number.
struct File {
    pieces: Vec<(String, Vec<Option<u8>>)>,
}

/// The loaded corpus.
pub struct Corpus {
    files: Vec<File>,
    method: MethodSig,
    bytes: usize,
}

impl Corpus {
    /// Load every `.lil` file of `dir`; `None` if there is none.
    pub fn load(dir: &Path) -> Option<Corpus> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "lil"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        let mut bytes = 0;
        for path in paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            // `02` is a set of fragments, not a stub.
            if name.as_deref().is_some_and(|n| n.starts_with("02_")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let pieces: Vec<(String, Vec<Option<u8>>)> = split(&text)
                .into_iter()
                .map(|p| {
                    let kinds = directive_kinds(&p);
                    (p, kinds)
                })
                .collect();
            bytes += pieces.iter().map(|(p, _)| p.len()).sum::<usize>();
            files.push(File { pieces });
        }
        (!files.is_empty()).then(|| Corpus {
            files,
            method: MethodSig {
                is_static: false,
                params: vec![ValueKind::Reference, ValueKind::Int],
                result: ValueKind::Int,
            },
            bytes,
        })
    }

    /// Bytes of LIL text parsed by [`Corpus::parse_all`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of stubs.
    pub fn stubs(&self) -> usize {
        self.files.len()
    }

    /// Parse every stub; returns how many parsed (all of them, unless the
    /// corpus and the parser disagree).
    pub fn parse_all(&self) -> usize {
        let mut parsed = 0;
        let mut args: Vec<Arg<'_>> = Vec::new();
        for file in &self.files {
            let mut builder: Option<StubBuilder> = None;
            let mut ok = true;
            for (piece, kinds) in &file.pieces {
                args.clear();
                args.extend(kinds.iter().map(|k| match k {
                    Some(b'm') | Some(b'j') => Arg::method(&self.method),
                    _ => Arg::Int(1),
                }));
                let result = match &mut builder {
                    None => StubBuilder::new(piece, &args).map(|b| builder = Some(b)),
                    Some(b) => b.append(piece, &args),
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

/// Split a file into its `lil_parse_*` pieces (at `// ----` markers),
/// dropping comment lines and filling placeholders. An `entry` line with a
/// directive that opens a file without a marker after it is a piece of its
/// own (the native-stub overrides).
fn split(text: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("// ----") {
            if !pieces.last().is_some_and(|p| p.trim().is_empty()) {
                pieces.push(String::new());
            }
            continue;
        }
        if trimmed.starts_with("//") || trimmed.is_empty() {
            continue;
        }
        if let Some(piece) = pieces.last_mut() {
            piece.push_str(&fill_placeholders(line));
            piece.push('\n');
        }
    }
    pieces.retain(|p| !p.trim().is_empty());
    if let Some(first) = pieces.first().cloned() {
        let mut lines = first.lines();
        if let Some(entry) = lines
            .next()
            .filter(|l| l.trim_start().starts_with("entry") && l.contains('%'))
        {
            let rest: String = lines.map(|l| format!("{l}\n")).collect();
            if !rest.trim().is_empty() {
                pieces[0] = format!("{entry}\n");
                pieces.insert(1, rest);
            }
        }
    }
    pieces
}

/// Replace the `<...>` placeholders of the sprintf-built files.
fn fill_placeholders(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('<') {
        // `<` is also a comparison: only `<name...>` is a placeholder.
        let after = &rest[open + 1..];
        let is_placeholder = after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '(')
            && after
                .find('>')
                .is_some_and(|close| !after[..close].contains(';'));
        if !is_placeholder {
            out.push_str(&rest[..open + 1]);
            rest = after;
            continue;
        }
        let close = after.find('>').unwrap_or(0);
        out.push_str(&rest[..open]);
        out.push_str(match &after[..close] {
            "base_var" => "l0",
            "val" => "i1",
            "sz" | "size" => "64",
            _ => "8",
        });
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The kind of each `%N?` directive of a piece, by N.
fn directive_kinds(piece: &str) -> Vec<Option<u8>> {
    let mut kinds: Vec<Option<u8>> = Vec::new();
    for line in piece.lines() {
        let code = line.find("//").map_or(line, |c| &line[..c]);
        let b = code.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1
                && j < b.len()
                && let Ok(n) = code[i + 1..j].parse::<usize>()
            {
                if kinds.len() <= n {
                    kinds.resize(n + 1, None);
                }
                kinds[n] = Some(b[j]);
            }
            i = j;
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_parses_if_present() {
        let Some(corpus) = Corpus::load(&corpus_dir()) else {
            eprintln!("SKIP: no DRLVM corpus at {}", corpus_dir().display());
            return;
        };
        assert_eq!(corpus.parse_all(), corpus.stubs());
        assert!(corpus.bytes() > 10_000);
    }
}

//! The DRLVM conformance corpus (`../shared/corpus/drlvm/`), read from disk.
//!
//! Each file holds the LIL text of one DRLVM stub with its format directives
//! and `<placeholders>` left in place, split into the pieces DRLVM passed to
//! `lil_parse_code_stub` / `lil_parse_onto_end` by `// ---- call` comments.
//! [`CorpusStub::build`] fills every directive with a sample value of the
//! right kind and parses the pieces in order, appending, as DRLVM did.

use lil_syntax::{Arg, MethodSig, Stub, StubBuilder, SyntaxErrors, ValueKind};
use std::path::{Path, PathBuf};

/// Where the corpus is: `$LIL_DRLVM_CORPUS`, else the first
/// `shared/corpus/drlvm` found beside the repository or one of its parents
/// (the project keeps it in `../shared` next to the checkout).
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

/// The corpus files in order, or `None` when the directory is absent.
pub fn corpus_files() -> Option<Vec<PathBuf>> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lil"))
        .collect();
    files.sort();
    Some(files)
}

/// What a test does when the corpus is missing: a visible SKIP line, or a
/// failure under `CI=true`.
pub fn corpus_or_skip(test: &str) -> Option<Vec<PathBuf>> {
    match corpus_files() {
        Some(files) if !files.is_empty() => Some(files),
        _ => {
            let msg = format!(
                "SKIP {test}: DRLVM corpus not found at {} (set LIL_DRLVM_CORPUS)",
                corpus_dir().display()
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{msg}; under CI=true the corpus is required");
            }
            eprintln!("{msg}");
            None
        }
    }
}

/// One corpus file split into its parse calls.
#[derive(Clone, Debug)]
pub struct CorpusStub {
    /// File name without directory, e.g. `05_rth_checkcast.lil`.
    pub name: String,
    /// The text of each `lil_parse_*` call, placeholders filled.
    pub pieces: Vec<String>,
}

/// The method used for `%Nm` / `%Nj`: the corpus's representative
/// `int m(Object a, int b)` instance method.
pub fn sample_method() -> MethodSig {
    MethodSig {
        is_static: false,
        params: vec![ValueKind::Reference, ValueKind::Int],
        result: ValueKind::Int,
    }
}

impl CorpusStub {
    /// Read a corpus file: drop `//` comment lines, split at `// ---- call`
    /// markers, fill `<placeholders>` (`<base_var>` is `l0`, `<val>` is `i1`,
    /// every other one a number).
    pub fn load(path: &Path) -> std::io::Result<CorpusStub> {
        let text = std::fs::read_to_string(path)?;
        let mut pieces = vec![String::new()];
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("// ----") {
                if !pieces.last().is_some_and(|p| p.trim().is_empty()) {
                    pieces.push(String::new());
                }
                continue;
            }
            if let Some(piece) = pieces.last_mut() {
                piece.push_str(&fill_placeholders(line));
                piece.push('\n');
            }
        }
        pieces.retain(|p| !lil_syntax_is_blank(p));
        // The native-stub overrides (39..44) show the JNI stub's own
        // `entry 0:managed:%0m;` call without a `// ---- call` after it:
        // make an entry line with a directive its own call.
        if let Some(first) = pieces.first().cloned() {
            let mut lines = first
                .lines()
                .skip_while(|l| l.trim().is_empty() || l.trim_start().starts_with("//"));
            if let Some(entry) = lines
                .next()
                .filter(|l| l.trim_start().starts_with("entry") && l.contains('%'))
            {
                let rest: String = lines.map(|l| format!("{l}\n")).collect();
                if !lil_syntax_is_blank(&rest) {
                    pieces[0] = format!("{entry}\n");
                    pieces.insert(1, rest);
                }
            }
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(CorpusStub { name, pieces })
    }

    /// Whether the file is a set of fragments rather than a whole stub (`02`).
    pub fn is_fragments(&self) -> bool {
        self.name.starts_with("02_")
    }

    /// Parse the pieces in order with sample arguments (`%Ni` = `sample(N)`).
    pub fn build_with(
        &self,
        sample: &dyn Fn(usize, usize) -> i128,
    ) -> Result<Stub, (usize, SyntaxErrors, String)> {
        self.build_with_method(&sample_method(), sample)
    }

    /// Parse the pieces in order, `%Nm`/`%Nj` standing for `method`.
    pub fn build_with_method(
        &self,
        method: &MethodSig,
        sample: &dyn Fn(usize, usize) -> i128,
    ) -> Result<Stub, (usize, SyntaxErrors, String)> {
        let mut builder: Option<StubBuilder> = None;
        for (k, piece) in self.pieces.iter().enumerate() {
            let args = directive_args(piece, method, k, sample);
            let result = match &mut builder {
                None => StubBuilder::new(piece, &args).map(|b| builder = Some(b)),
                Some(b) => b.append(piece, &args),
            };
            if let Err(e) = result {
                let source = match &builder {
                    Some(b) => format!("{}\n{}", b.source(), piece),
                    None => piece.clone(),
                };
                return Err((k, e, source));
            }
        }
        match builder {
            Some(b) => Ok(b.finish()),
            None => Err((0, lil_syntax::parse("").unwrap_err(), String::new())),
        }
    }

    /// Parse with the default sample values (`%Ni` = 1).
    pub fn build(&self) -> Result<Stub, (usize, SyntaxErrors, String)> {
        self.build_with(&|_, _| 1)
    }

    /// For fragment files (`02`): the fragments as a stub, the way DRLVM
    /// used them: a stub is started (an entry and a frame with handles)
    /// and each fragment, one per code line, is parsed onto its end
    /// ([`StubBuilder::append`], label counter carried across). The `//|`
    /// alternatives are appended too (after their description, if any),
    /// among them the null check whose `%n %o %g` labels only work across
    /// appends. Returns the stub and the text of every fragment.
    pub fn build_fragments(&self) -> Result<(Stub, String), (usize, SyntaxErrors, String)> {
        const START: &str = "entry 0:managed:ref,ref:void;\npush_m2n 0, 0, handles;\nlocals 1;\n";
        let mut fragments: Vec<String> = Vec::new();
        for line in self.pieces.iter().flat_map(|p| p.lines()) {
            let line = line.trim();
            let code = match line.strip_prefix("//|") {
                // "IPF: st …" / "null_check && compressed refs:": drop the
                // description before the code.
                Some(alt) => {
                    let alt = alt.trim();
                    let code = match alt.split_once(": ") {
                        Some((what, code)) if !what.contains(['[', ';', '=']) => code,
                        _ if alt.ends_with(':') => "",
                        _ => alt,
                    };
                    fill_placeholders(code)
                }
                None if line.starts_with("//") => String::new(),
                None => line.to_owned(),
            };
            if code.trim().is_empty() {
                continue;
            }
            // The file's own `ret;` ends the stub: close the frame first.
            if code.trim() == "ret;" {
                fragments.push("pop_m2n;\nret;\n".to_owned());
            } else {
                fragments.push(format!("{code}\n"));
            }
        }
        let mut builder = StubBuilder::new(START, &[]).map_err(|e| (0, e, START.to_owned()))?;
        let mut source = START.to_owned();
        for (k, fragment) in fragments.iter().enumerate() {
            source.push_str(fragment);
            builder
                .append(fragment, &[])
                .map_err(|e| (k + 1, e, fragment.clone()))?;
        }
        Ok((builder.finish(), source))
    }
}

fn lil_syntax_is_blank(piece: &str) -> bool {
    piece
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("//"))
}

/// Replace `<...>` placeholders of the sprintf-built files.
fn fill_placeholders(line: &str) -> String {
    if line.trim_start().starts_with("//") {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('<') {
        // `<` is also a LIL comparison: only `<name...>` with no space after `<` is a placeholder.
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
        let name = &after[..close];
        out.push_str(&rest[..open]);
        out.push_str(match name {
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

/// Arguments for the directives of one piece: `%Nm`/`%Nj` get the sample
/// method, `%Ni` an integer from `sample(piece, N)`.
fn directive_args<'m>(
    piece: &str,
    method: &'m MethodSig,
    piece_index: usize,
    sample: &dyn Fn(usize, usize) -> i128,
) -> Vec<Arg<'m>> {
    directive_kinds(piece)
        .iter()
        .enumerate()
        .map(|(n, k)| match k {
            Some(b'm') | Some(b'j') => Arg::method(method),
            _ => Arg::Int(sample(piece_index, n)),
        })
        .collect()
}

/// The kind letter (`b'i'`, `b'm'`, `b'j'`, ...) of each `%N` directive of
/// a piece, by N, outside `//` comments.
pub fn directive_kinds(piece: &str) -> Vec<Option<u8>> {
    let mut kinds: Vec<Option<u8>> = Vec::new();
    for line in piece.lines() {
        let code = match line.find("//") {
            Some(c) => &line[..c],
            None => line,
        };
        note_directive_kinds(code, &mut kinds);
    }
    kinds
}

/// Record in `kinds[N]` the kind letter of each `%N` directive of `code`
/// (`i`, `m`, `j`, ...). Indices of 64 and more are not directives any
/// stub uses and are skipped, so mutated text cannot ask for a huge table.
pub fn note_directive_kinds(code: &str, kinds: &mut Vec<Option<u8>>) {
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1
                && j < b.len()
                && let Ok(n) = code[i + 1..j].parse::<usize>()
                && n < 64
            {
                if kinds.len() <= n {
                    kinds.resize(n + 1, None);
                }
                kinds[n] = Some(b[j]);
            }
            i = j;
        } else {
            i += 1;
        }
    }
}

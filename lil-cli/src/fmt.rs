//! `lil fmt FILE` / `lil fmt --check FILE...`: print the canonical text of
//! a stub, or check that files are canonical.
//!
//! The canonical text is the AST's `Display` (one declaration or
//! instruction per line, ending with a newline); it parses back to the same
//! stub. Comments are not kept. Only syntax matters here: a stub that
//! parses but is not valid is still formatted.

use std::path::PathBuf;

use crate::source::{Exit, SourceFile};

/// The long help of `lil fmt`.
pub const LONG_ABOUT: &str = "\
Print a LIL file in canonical form: one declaration or instruction per line, \
canonical spacing and numbers. Comments are dropped. With --check, print nothing \
on stdout and exit 1 if any of the files is not already canonical.";

/// Examples shown at the end of `lil fmt --help`.
pub const EXAMPLES: &str = "\
Examples:
  lil fmt add.lil                     print the canonical text on stdout
  lil fmt add.lil > tmp && mv tmp add.lil   reformat in place
  lil fmt --check add.lil             exit 1 and show the differences if not canonical
  lil fmt --check stubs/*.lil         check every file (CI)";

/// Arguments of `lil fmt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The LIL file to format (with --check, one or more files).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Do not print the text: exit 1 (listing the differences on stderr) if
    /// the file is not canonical, 0 if it is.
    #[arg(long)]
    check: bool,
}

/// Run `lil fmt`.
pub fn main(args: &Args) -> Exit {
    if !args.check {
        return match args.files.as_slice() {
            [file] => print_canonical(file),
            _ => crate::source::fail(
                Exit::Usage,
                "lil fmt prints one file; to check several, use `lil fmt --check FILE...`",
            ),
        };
    }
    // Every file is checked (and every difference shown); the worst exit wins.
    args.files
        .iter()
        .map(|file| check_canonical(file))
        .max_by_key(|exit| match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
        })
        .unwrap_or(Exit::Success)
}

/// Print the canonical text of `path` on stdout.
fn print_canonical(path: &std::path::Path) -> Exit {
    let file = match SourceFile::read(path) {
        Ok(file) => file,
        Err(e) => return e,
    };
    match file.parse() {
        Ok(stub) => {
            print!("{stub}");
            Exit::Success
        }
        Err(e) => file.report(&e),
    }
}

/// Whether `path` is canonical; if not, show the differences on stderr.
fn check_canonical(path: &std::path::Path) -> Exit {
    let file = match SourceFile::read(path) {
        Ok(file) => file,
        Err(e) => return e,
    };
    let stub = match file.parse() {
        Ok(stub) => stub,
        Err(e) => return file.report(&e),
    };
    let canonical = stub.to_string();
    if file.text == canonical {
        return Exit::Success;
    }
    eprintln!(
        "{} is not in canonical form (- is the file, + the canonical text):",
        file.name
    );
    eprint!("{}", diff(&file.text, &canonical));
    eprintln!(
        "help: run `lil fmt {0} > {0}.tmp && mv {0}.tmp {0}` to reformat it",
        file.name
    );
    Exit::Failure
}

/// At most this many changed lines are shown.
const MAX_DIFF_LINES: usize = 40;

/// A line diff: unchanged lines are skipped, removed lines start with `-`,
/// added lines with `+`, each prefixed by its line number in its own text.
/// Longest common subsequence for files up to a few thousand lines;
/// beyond that, a positional comparison.
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    if a.len().saturating_mul(b.len()) <= 4_000_000 {
        // lcs[i][j]: length of the LCS of a[i..] and b[j..].
        let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i][j] = if a[i] == b[j] {
                    lcs[i + 1][j + 1] + 1
                } else {
                    lcs[i + 1][j].max(lcs[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                i += 1;
                j += 1;
            } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
                ops.push(('-', i + 1, a[i]));
                i += 1;
            } else {
                ops.push(('+', j + 1, b[j]));
                j += 1;
            }
        }
    } else {
        for k in 0..a.len().max(b.len()) {
            if a.get(k) != b.get(k) {
                if let Some(line) = a.get(k) {
                    ops.push(('-', k + 1, line));
                }
                if let Some(line) = b.get(k) {
                    ops.push(('+', k + 1, line));
                }
            }
        }
    }
    let mut out = String::new();
    if ops.is_empty() {
        // Same lines: only line endings or the final newline differ.
        out.push_str("  (line endings or the final newline differ)\n");
    }
    for (sign, line, text) in ops.iter().take(MAX_DIFF_LINES) {
        out.push_str(&format!("{sign}{line:>4} | {text}\n"));
    }
    if ops.len() > MAX_DIFF_LINES {
        out.push_str(&format!(
            "  ... and {} more changed lines\n",
            ops.len() - MAX_DIFF_LINES
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_shows_only_changed_lines() {
        let d = diff("a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(d, "-   2 | b\n+   2 | B\n");
    }

    #[test]
    fn diff_of_a_split_line() {
        let d = diff("x; y;\n", "x;\ny;\n");
        assert_eq!(d, "-   1 | x; y;\n+   1 | x;\n+   2 | y;\n");
    }

    #[test]
    fn diff_of_line_endings_only() {
        assert!(diff("a", "a\n").contains("final newline"));
    }
}

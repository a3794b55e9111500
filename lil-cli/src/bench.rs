//! `lil bench`: the benchmark harness of `lil-bench`, LIL side by side with
//! hand-written dynasm, Cranelift and rustc, printed as a markdown report
//! or as JSON lines.
//!
//! The harness is behind the `bench` feature (it builds Cranelift); without
//! it the subcommand says how to get it.

use std::path::PathBuf;

use crate::source::{Exit, fail};

/// The long help of `lil bench`.
pub const LONG_ABOUT: &str = "\
Measure LIL against what a VM author would otherwise use, in one run on this \
machine: generation latency (LIL text and lil_parse! templates against \
hand-written dynasm and Cranelift), code size, fast-path instructions (counted \
exactly), time per call (also against rustc), scaling to a million per-class \
stubs in one code cache, and the front end (DRLVM corpus, checker linearity). \
Every row is checked against the project's goals. Prints a markdown report on \
stdout, or one JSON object per measurement with --json. Takes about a minute; \
progress goes to stderr. Absolute times are indicative only: compare the ratios.";

/// Examples shown at the end of `lil bench --help`.
pub const EXAMPLES: &str = "\
Examples:
  lil bench                                    the full report, markdown
  lil bench --json > bench.jsonl               one JSON object per measurement
  lil bench --chart docs/perf/scaling.svg      also draw the scaling chart
  lil bench --json-file docs/perf/results.jsonl   markdown on stdout, JSON lines to a file
  lil bench --quick --sizes 1000,10000         a fast, noisier run

From a checkout: cargo run --release -p lil-cli -- bench (built with the default features)";

/// Options of `lil bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON lines ({\"bench\", \"system\", \"metric\", \"value\", \"unit\"}) instead of markdown.
    #[arg(long)]
    pub json: bool,
    /// Shorter measurements (noisier numbers).
    #[arg(long)]
    pub quick: bool,
    /// Also write the JSON lines to this file (the markdown still goes to stdout).
    #[arg(long, value_name = "PATH")]
    pub json_file: Option<PathBuf>,
    /// Also write a compact summary (the README's tables) to this file.
    #[arg(long, value_name = "PATH")]
    pub summary_file: Option<PathBuf>,
    /// Write the scaling chart (SVG) to this file.
    #[arg(long, value_name = "PATH")]
    pub chart: Option<PathBuf>,
    /// Stub counts for the scaling run, comma-separated.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    pub sizes: Vec<usize>,
}

/// Run `lil bench`.
#[cfg(feature = "bench")]
pub fn main(args: &Args) -> Exit {
    if args.sizes.is_empty() || args.sizes.contains(&0) {
        return fail(Exit::Usage, "--sizes needs positive stub counts");
    }
    let mut command = String::from("cargo run --release -p lil-cli -- bench");
    if args.quick {
        command.push_str(" --quick");
    }
    if let Some(chart) = &args.chart {
        command.push_str(&format!(" --chart {}", chart.display()));
    }
    if let Some(json) = &args.json_file {
        command.push_str(&format!(" --json-file {}", json.display()));
    }
    if let Some(summary) = &args.summary_file {
        command.push_str(&format!(" --summary-file {}", summary.display()));
    }
    let options = lil_bench::Options {
        quick: args.quick,
        scaling_sizes: args.sizes.clone(),
        chart: args.chart.clone(),
        command,
        progress: true,
    };
    match lil_bench::run(&options) {
        Ok(report) => {
            let files = [
                (&args.json_file, report.json_lines()),
                (&args.summary_file, report.summary.clone()),
            ];
            for (path, text) in files {
                if let Some(path) = path
                    && let Err(e) = std::fs::write(path, text)
                {
                    return fail(
                        Exit::Failure,
                        format!("cannot write {}: {e}", path.display()),
                    );
                }
            }
            if args.json {
                print!("{}", report.json_lines());
            } else {
                print!("{}", report.markdown());
            }
            Exit::Success
        }
        Err(e) => fail(Exit::Failure, e),
    }
}

/// Without the harness: say how to build it.
#[cfg(not(feature = "bench"))]
pub fn main(_args: &Args) -> Exit {
    fail(
        Exit::Usage,
        "this `lil` was built without the benchmark harness (the `bench` feature, on \
         by default); run `cargo run --release -p lil-cli -- bench`",
    )
}

//! The whole `lil bench` report under `cargo bench` (markdown on stdout).
//!
//! ```text
//! cargo bench -p lil-bench --bench report              # full run
//! cargo bench -p lil-bench --bench report -- --quick   # short, noisier
//! ```

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let options = lil_bench::Options {
        quick,
        command: format!(
            "cargo bench -p lil-bench --bench report{}",
            if quick { " -- --quick" } else { "" }
        ),
        progress: true,
        ..Default::default()
    };
    match lil_bench::run(&options) {
        Ok(report) => print!("{}", report.markdown()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

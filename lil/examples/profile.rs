//! Profile a stub with Linux `perf`: the JIT writes a perf map and a
//! jitdump file, so `perf report` names the stub and `perf annotate` shows
//! its instructions under their LIL lines.
//!
//! ```sh
//! cargo build --release -p lil --example profile
//! perf record -k mono -o /tmp/perf.data target/release/examples/profile /tmp/lil-profile
//! perf inject --jit -i /tmp/perf.data -o /tmp/perf.jit.data
//! perf report -i /tmp/perf.jit.data --sort sym
//! ```

use lil::{HostEnv, Jit};

const SUM_TO: &str = "\
entry 0:platform:g8:g8;
locals 2;
l0 = 0:g8;
l1 = i0;
:loop;
jc l1 = 0, done;
l0 = l0 + l1;
l1 = l1 - 1;
j loop;
:done;
r = l0;
ret;
";

fn main() -> Result<(), lil::Error> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/lil-profile".into());
    let mut jit = Jit::new(HostEnv::default())?;
    jit.enable_source_dir(&dir)?;
    jit.enable_perf_map()?;
    let dump = jit.enable_jitdump(&dir)?.to_path_buf();
    let stub = jit.install_named("sum_to", SUM_TO)?;
    // SAFETY: the stub is `platform:g8:g8` and `jit` outlives the calls.
    let sum_to = unsafe { stub.as_fn::<extern "C" fn(u64) -> u64>() };
    let mut total = 0u64;
    for k in 0..20_000u64 {
        total = total.wrapping_add(sum_to(std::hint::black_box(10_000 + k % 7)));
    }
    println!("total {total}; jitdump at {}", dump.display());
    Ok(())
}

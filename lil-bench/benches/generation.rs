//! Generation latency under criterion: the same runners `lil bench` uses
//! (LIL text and `lil_parse!` pipelines and phases, hand-written `dynasm!`,
//! Cranelift), one criterion benchmark each.
//!
//! ```text
//! cargo bench -p lil-bench --bench generation                 # all stubs, all systems
//! cargo bench -p lil-bench --bench generation -- fig1_alloc   # one stub
//! ```

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lil_bench::harness::{aarch64_params, generation_runners};
use lil_bench::runtime::NativeWorld;
use lil_bench::stubs::{Params, StubKind};
use lil_codegen::CodeCache;

fn generation(c: &mut Criterion) {
    let world = NativeWorld::new();
    let p = world
        .as_ref()
        .map_or_else(Params::example, |w| w.params.clone());
    let p_a64 = aarch64_params(&p);
    let Ok(cache) = CodeCache::with_default_capacity() else {
        eprintln!("cannot create a code cache");
        return;
    };
    for stub in StubKind::ALL {
        let runners = match generation_runners(stub, &p, &p_a64, &cache) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let mut group = c.benchmark_group(format!("generation/{}", stub.name()));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(1));
        for (system, metric, mut runner) in runners {
            group.bench_function(format!("{system}/{metric}"), |b| {
                b.iter_custom(|n| runner(n as usize))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, generation);
criterion_main!(benches);

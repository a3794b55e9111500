//! Generating many distinct per-class `instanceof` stubs into one code
//! cache: generate (`lil_parse!` holes, no parsing) + check + compile for
//! x86-64 + install, per stub. Prints stubs/s and the cache's memory for
//! 10^3 … 10^6 stubs.
//!
//! ```text
//! cargo bench -p lil-stubs --bench instanceof_cache            # 10^3 .. 10^6
//! cargo bench -p lil-stubs --bench instanceof_cache -- 100000  # one size
//! ```

use std::time::Instant;

use lil_codegen::{Backend, CodeCache, HostEnv};
use lil_stubs::{ClassInfo, VmLayout, typecheck};

fn run(count: usize, vm: &VmLayout, env: &HostEnv) {
    let cache = match CodeCache::new(1 << 30) {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!("cannot create the code cache: {e}");
            std::process::exit(1);
        }
    };
    let backend = lil_codegen_x64::X64Backend;
    let start = Instant::now();
    let mut generate_and_check = std::time::Duration::ZERO;
    for k in 0..count {
        // Distinct classes at distinct addresses and depths 1..=8.
        let class = ClassInfo {
            class: 0x7f00_0000_0000 + 64 * k as u64,
            depth: 1 + (k % 8) as u32,
            is_interface: false,
            vtable: 0,
            instance_size: 16,
        };
        let t = Instant::now();
        let stub = typecheck::instanceof_for_class(vm, &class).expect("generate");
        generate_and_check += t.elapsed();
        let code = backend.compile(&stub, env).expect("compile");
        cache.install(&code.code).expect("install");
    }
    let elapsed = start.elapsed();
    let stats = cache.stats();
    println!(
        "{count:>9} stubs  {:>8.1} ms  {:>9.0} stubs/s  ({:.2} µs/stub, of which generate+check {:.2} µs)  \
         code {:>6.2} MiB ({:.1} B/stub)  bookkeeping {:>6.2} MiB ({:.1} B/stub)  committed {:>6.2} MiB",
        elapsed.as_secs_f64() * 1e3,
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / count as f64,
        generate_and_check.as_secs_f64() * 1e6 / count as f64,
        stats.code_bytes as f64 / (1 << 20) as f64,
        stats.code_bytes as f64 / count as f64,
        stats.bookkeeping_bytes as f64 / (1 << 20) as f64,
        stats.bookkeeping_bytes as f64 / count as f64,
        stats.committed_bytes as f64 / (1 << 20) as f64,
    );
}

/// The same with `threads` compiler threads installing into one cache.
fn run_parallel(count: usize, threads: usize, vm: &VmLayout, env: &HostEnv) {
    let Ok(cache) = CodeCache::new(1 << 30) else {
        eprintln!("cannot create the code cache");
        std::process::exit(1);
    };
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let cache = &cache;
            scope.spawn(move || {
                for k in (t..count).step_by(threads) {
                    let class = ClassInfo {
                        class: 0x7f00_0000_0000 + 64 * k as u64,
                        depth: 1 + (k % 8) as u32,
                        is_interface: false,
                        vtable: 0,
                        instance_size: 16,
                    };
                    let stub = typecheck::instanceof_for_class(vm, &class).expect("generate");
                    let code = lil_codegen_x64::X64Backend
                        .compile(&stub, env)
                        .expect("compile");
                    cache.install(&code.code).expect("install");
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let stats = cache.stats();
    assert_eq!(stats.live_stubs, count);
    println!(
        "{count:>9} stubs  {:>8.1} ms  {:>9.0} stubs/s  with {threads} threads",
        elapsed.as_secs_f64() * 1e3,
        count as f64 / elapsed.as_secs_f64(),
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let vm = VmLayout::example();
    let env = HostEnv::default();
    for &count in &sizes {
        run(count, &vm, &env);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > 1 {
        for &count in &sizes {
            run_parallel(count, threads, &vm, &env);
        }
    }
}

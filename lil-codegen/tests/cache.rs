//! Tests of the code cache: code runs, packs many stubs per page, is W^X,
//! reuses freed space, refuses bad handles, and keeps its bookkeeping small.

use std::collections::HashSet;
use std::ops::Range;

use lil_codegen::cache::{CacheError, CodeCache, DEFAULT_ALIGN, InstalledCode, MAX_CAPACITY};

/// `mov eax, value; ret`
fn return_u32(value: u32) -> Vec<u8> {
    let mut code = vec![0xb8];
    code.extend_from_slice(&value.to_le_bytes());
    code.push(0xc3);
    code
}

/// `mov eax, value; nop * padding; ret`
fn return_u32_padded(value: u32, padding: usize) -> Vec<u8> {
    let mut code = return_u32(value);
    code.splice(5..5, std::iter::repeat_n(0x90, padding));
    code
}

/// `movabs rax, value; ret`
fn return_u64(value: u64) -> Vec<u8> {
    let mut code = vec![0x48, 0xb8];
    code.extend_from_slice(&value.to_le_bytes());
    code.push(0xc3);
    code
}

/// Calls a stub built by [`return_u32`].
#[cfg(target_arch = "x86_64")]
fn call_u32(stub: InstalledCode) -> u32 {
    // SAFETY: every stub passed here is `mov eax, imm32; ret` (plus nops),
    // a complete System V function taking no arguments.
    let function: extern "C" fn() -> u32 = unsafe { std::mem::transmute(stub.addr()) };
    function()
}

/// Calls a stub built by [`return_u64`].
#[cfg(target_arch = "x86_64")]
fn call_u64(stub: InstalledCode) -> u64 {
    // SAFETY: the stub is `movabs rax, imm64; ret`.
    let function: extern "C" fn() -> u64 = unsafe { std::mem::transmute(stub.addr()) };
    function()
}

fn small_cache() -> CodeCache {
    match CodeCache::new(1 << 20) {
        Ok(cache) => cache,
        Err(error) => panic!("cannot create a code cache: {error}"),
    }
}

fn install(cache: &CodeCache, code: &[u8]) -> InstalledCode {
    match cache.install(code) {
        Ok(stub) => stub,
        Err(error) => panic!("install failed: {error}"),
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn installed_code_runs() {
    let cache = small_cache();
    let stub = install(&cache, &[0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3]);
    assert_eq!(call_u32(stub), 42);
    assert_eq!(stub.len(), 6);
    assert_eq!(stub.addr() % DEFAULT_ALIGN, 0);
    assert!(cache.contains(stub.addr()));
    assert!(cache.rx_range().contains(&stub.addr()));
    assert!(!cache.contains(cache.rx_range().end));
    assert!(!cache.contains(cache.rx_range().start.wrapping_sub(1)));
}

#[test]
fn many_stubs_share_pages_and_all_run() {
    const STUBS: u32 = 10_000;
    let cache = small_cache();
    let stubs: Vec<InstalledCode> = (0..STUBS)
        .map(|i| install(&cache, &return_u32(i)))
        .collect();

    let pages: HashSet<usize> = stubs.iter().map(|stub| stub.addr() / 4096).collect();
    assert!(pages.len() < STUBS as usize);
    // 16 bytes each: 256 stubs to a 4 KiB page.
    assert!(pages.len() <= (STUBS as usize * DEFAULT_ALIGN).div_ceil(4096) + 1);
    let addresses: HashSet<usize> = stubs.iter().map(|stub| stub.addr()).collect();
    assert_eq!(addresses.len(), STUBS as usize);

    #[cfg(target_arch = "x86_64")]
    for (i, stub) in (0..STUBS).zip(&stubs) {
        assert_eq!(call_u32(*stub), i);
    }
}

#[test]
fn full_cache_returns_an_error() {
    let cache = match CodeCache::new(4096) {
        Ok(cache) => cache,
        Err(error) => panic!("cannot create a code cache: {error}"),
    };
    let capacity = cache.stats().capacity;
    assert!(capacity >= 4096);
    let code = [0x90; DEFAULT_ALIGN];
    let stubs: Vec<InstalledCode> = (0..capacity / DEFAULT_ALIGN)
        .map(|_| install(&cache, &code))
        .collect();
    let error = cache.install(&[0xc3]);
    assert!(matches!(error, Err(CacheError::Full { .. })), "{error:?}");
    if let Err(error) = error {
        assert!(error.to_string().contains("full"), "{error}");
    }
    // Still usable: freeing makes room again.
    assert!(cache.free(stubs[7]).is_ok());
    let again = cache.install(&[0xc3]);
    assert!(matches!(again, Ok(stub) if stub.addr() == stubs[7].addr()));

    let empty = match CodeCache::new(capacity) {
        Ok(cache) => cache,
        Err(error) => panic!("cannot create a code cache: {error}"),
    };
    let too_big = vec![0x90; capacity + 1];
    assert!(matches!(
        empty.install(&too_big),
        Err(CacheError::Full { .. })
    ));
    assert!(matches!(
        empty.reserve(usize::MAX, 16),
        Err(CacheError::Full { .. })
    ));
    assert!(matches!(
        empty.install_aligned(&[0xc3], 1 << 40),
        Err(CacheError::Full { .. })
    ));
    assert!(empty.install(&vec![0x90; capacity]).is_ok());
}

#[test]
fn concurrent_installs_from_four_threads_all_run() {
    const PER_THREAD: u32 = 2_000;
    let cache = small_cache();
    let mut all = Vec::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u32)
            .map(|thread| {
                let cache = &cache;
                scope.spawn(move || {
                    let mut stubs = Vec::new();
                    for i in 0..PER_THREAD {
                        let value = thread * 1_000_000 + i;
                        let stub = install(cache, &return_u32(value));
                        #[cfg(target_arch = "x86_64")]
                        assert_eq!(call_u32(stub), value);
                        stubs.push((value, stub));
                    }
                    stubs
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(stubs) => all.extend(stubs),
                Err(_) => panic!("an installing thread panicked"),
            }
        }
    });
    assert_eq!(all.len(), 4 * PER_THREAD as usize);
    let addresses: HashSet<usize> = all.iter().map(|(_, stub)| stub.addr()).collect();
    assert_eq!(addresses.len(), all.len());
    let ids: HashSet<u64> = all.iter().map(|(_, stub)| stub.id()).collect();
    assert_eq!(ids.len(), all.len());
    assert_eq!(cache.stats().live_stubs, all.len());
    #[cfg(target_arch = "x86_64")]
    for (value, stub) in all {
        assert_eq!(call_u32(stub), value);
    }
}

#[test]
fn free_then_install_reuses_space() {
    let cache = small_cache();
    let a = install(&cache, &return_u32(1));
    let b = install(&cache, &return_u32(2));
    let c = install(&cache, &return_u32(3));
    assert!(c.addr() > b.addr());
    assert!(cache.free(b).is_ok());
    assert_eq!(cache.stats().live_stubs, 2);

    // First fit: the hole between a and c.
    let d = install(&cache, &return_u32(4));
    assert_eq!(d.addr(), b.addr());
    assert_ne!(d.id(), b.id());

    // a and d are adjacent: freed, they coalesce into one 32-byte hole.
    assert!(cache.free(a).is_ok());
    assert!(cache.free(d).is_ok());
    let wide = install(&cache, &return_u32_padded(5, 20));
    assert_eq!(wide.len(), 26);
    assert_eq!(wide.addr(), a.addr());

    // Freeing the last stub moves the bump pointer back.
    let e = install(&cache, &return_u32(6));
    assert!(cache.free(e).is_ok());
    let f = install(&cache, &return_u32(7));
    assert_eq!(f.addr(), e.addr());

    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(call_u32(wide), 5);
        assert_eq!(call_u32(c), 3);
        assert_eq!(call_u32(f), 7);
    }
    assert_eq!(cache.stats().live_stubs, 3);
    assert_eq!(cache.stats().code_bytes, 26 + 6 + 6);
}

#[test]
fn everything_freed_leaves_an_empty_cache() {
    // A fixed pseudo-random sequence of installs and frees of mixed sizes
    // and alignments; live stubs must never overlap.
    let cache = small_cache();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut live: Vec<(InstalledCode, u32)> = Vec::new();
    for step in 0..5_000u32 {
        if live.is_empty() || next() % 3 != 0 {
            let padding = (next() % 100) as usize;
            let align = 1usize << (next() % 8);
            let code = return_u32_padded(step, padding);
            match cache.install_aligned(&code, align) {
                Ok(stub) => {
                    assert_eq!(stub.addr() % align, 0);
                    live.push((stub, step));
                }
                Err(error) => panic!("install failed: {error}"),
            }
        } else {
            let index = (next() % live.len() as u64) as usize;
            let (stub, _) = live.swap_remove(index);
            assert!(cache.free(stub).is_ok());
        }
    }
    let mut ranges: Vec<Range<usize>> = live
        .iter()
        .map(|(stub, _)| stub.addr()..stub.addr() + stub.len())
        .collect();
    ranges.sort_by_key(|range| range.start);
    for pair in ranges.windows(2) {
        assert!(pair[0].end <= pair[1].start, "{pair:?} overlap");
    }
    assert_eq!(cache.stats().live_stubs, live.len());
    #[cfg(target_arch = "x86_64")]
    for (stub, value) in &live {
        assert_eq!(call_u32(*stub), *value);
    }
    for (stub, _) in live {
        assert!(cache.free(stub).is_ok());
    }
    let stats = cache.stats();
    assert_eq!((stats.live_stubs, stats.code_bytes), (0, 0));
    // All holes coalesced back into the bump pointer.
    let first = install(&cache, &return_u32(0));
    assert_eq!(first.addr(), cache.rx_range().start);
}

#[test]
fn double_free_and_foreign_handles_are_refused() {
    let cache = small_cache();
    let other = small_cache();
    let a = install(&cache, &return_u32(1));
    let b = install(&cache, &return_u32(2));
    let foreign = install(&other, &return_u32(3));

    assert!(cache.free(a).is_ok());
    assert!(matches!(cache.free(a), Err(CacheError::NotLive { .. })));
    assert!(matches!(
        cache.free(foreign),
        Err(CacheError::NotLive { .. })
    ));

    // a's record and bytes are reused; the stale handle must not free the
    // new stub.
    let c = install(&cache, &return_u32(4));
    assert_eq!(c.addr(), a.addr());
    assert!(matches!(cache.free(a), Err(CacheError::NotLive { .. })));
    assert_eq!(cache.stats().live_stubs, 2);
    assert_eq!(other.stats().live_stubs, 1);
    if let Err(error) = cache.free(a) {
        assert!(error.to_string().contains("not live"), "{error}");
    }

    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(call_u32(b), 2);
        assert_eq!(call_u32(c), 4);
        assert_eq!(call_u32(foreign), 3);
    }
    assert!(cache.free(b).is_ok());
    assert!(cache.free(c).is_ok());
    assert!(other.free(foreign).is_ok());
}

/// One line of `/proc/self/maps`.
struct Mapping {
    range: Range<usize>,
    permissions: String,
    path: String,
}

fn mappings() -> Vec<Mapping> {
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => maps,
        Err(error) => panic!("cannot read /proc/self/maps: {error}"),
    };
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let permissions = fields.next()?.to_owned();
            let path = fields.skip(3).collect::<Vec<_>>().join(" ");
            Some(Mapping {
                range: usize::from_str_radix(start, 16).ok()?
                    ..usize::from_str_radix(end, 16).ok()?,
                permissions,
                path,
            })
        })
        .collect()
}

#[test]
fn no_cache_mapping_is_writable_and_executable() {
    let cache = small_cache();
    install(&cache, &return_u32(1));
    let rx = cache.rx_range();
    let cache_mappings: Vec<Mapping> = mappings()
        .into_iter()
        .filter(|mapping| {
            mapping.path.contains("lil-code-cache")
                || (mapping.range.start < rx.end && rx.start < mapping.range.end)
        })
        .collect();
    // The read-write view is found by the memfd's name.
    assert!(
        cache_mappings
            .iter()
            .any(|mapping| mapping.permissions.starts_with("rw"))
    );
    assert!(
        cache_mappings
            .iter()
            .any(|mapping| mapping.permissions.starts_with("r-x"))
    );
    for mapping in &cache_mappings {
        assert!(
            !(mapping.permissions.contains('w') && mapping.permissions.contains('x')),
            "{:x?} {} {} is writable and executable",
            mapping.range,
            mapping.permissions,
            mapping.path
        );
    }
}

#[test]
fn rx_view_is_read_execute_only() {
    let cache = small_cache();
    let stub = install(&cache, &return_u32(1));
    let rx = cache.rx_range();
    let covering: Vec<Mapping> = mappings()
        .into_iter()
        .filter(|mapping| mapping.range.start < rx.end && rx.start < mapping.range.end)
        .collect();
    assert!(!covering.is_empty());
    assert!(
        covering
            .iter()
            .any(|mapping| mapping.range.contains(&stub.addr()))
    );
    for mapping in covering {
        assert!(
            mapping.permissions.starts_with("r-x"),
            "{:x?} {}",
            mapping.range,
            mapping.permissions
        );
        assert!(mapping.path.contains("lil-code-cache"), "{}", mapping.path);
    }
}

#[test]
fn bookkeeping_stays_within_32_bytes_per_stub() {
    const STUBS: usize = 100_000;
    let cache = match CodeCache::with_default_capacity() {
        Ok(cache) => cache,
        Err(error) => panic!("cannot create a code cache: {error}"),
    };
    let codes: Vec<Vec<u8>> = (0..STUBS as u32).map(return_u32).collect();
    let start = std::time::Instant::now();
    let stubs: Vec<InstalledCode> = codes.iter().map(|code| install(&cache, code)).collect();
    let elapsed = start.elapsed();
    eprintln!(
        "installed {STUBS} stubs in {elapsed:?}: {:.0} ns per stub",
        elapsed.as_nanos() as f64 / STUBS as f64
    );

    let stats = cache.stats();
    eprintln!("{stats:?}");
    assert_eq!(stubs.len(), STUBS);
    assert_eq!(stats.live_stubs, STUBS);
    assert_eq!(stats.code_bytes, STUBS * 6);
    assert!(stats.bookkeeping_bytes > 0);
    assert!(
        stats.bookkeeping_bytes <= 32 * STUBS,
        "{} bytes of bookkeeping for {STUBS} stubs",
        stats.bookkeeping_bytes
    );
    assert!(stats.committed_bytes >= STUBS * DEFAULT_ALIGN);
    // Only touched pages are committed, not the whole reservation.
    assert!(stats.committed_bytes < stats.capacity / 10);

    #[cfg(target_arch = "x86_64")]
    for (i, stub) in stubs.iter().enumerate().step_by(997) {
        assert_eq!(call_u32(*stub), i as u32);
    }
}

#[test]
fn reservation_knows_its_address_and_returns_its_tail() {
    let cache = small_cache();
    let reservation = match cache.reserve(64, 16) {
        Ok(reservation) => reservation,
        Err(error) => panic!("reserve failed: {error}"),
    };
    let addr = reservation.addr();
    assert_eq!(reservation.len(), 64);
    let code = return_u64(addr as u64);
    let stub = match reservation.commit(&code) {
        Ok(stub) => stub,
        Err(error) => panic!("commit failed: {error}"),
    };
    assert_eq!(stub.addr(), addr);
    assert_eq!(stub.len(), code.len());
    #[cfg(target_arch = "x86_64")]
    assert_eq!(call_u64(stub), addr as u64);

    // 11 bytes used one granule; the other three came back.
    let next = install(&cache, &return_u32(1));
    assert_eq!(next.addr(), addr + DEFAULT_ALIGN);

    // Too much code: an error, and the whole reservation comes back.
    let reservation = match cache.reserve(8, 16) {
        Ok(reservation) => reservation,
        Err(error) => panic!("reserve failed: {error}"),
    };
    let reserved_at = reservation.addr();
    assert!(matches!(
        reservation.commit(&code),
        Err(CacheError::CodeTooLarge {
            len: 11,
            reserved: 8
        })
    ));
    // Dropped without a commit: returned too.
    let dropped = cache.reserve(128, 64).map(|reservation| reservation.addr());
    assert!(matches!(dropped, Ok(addr) if addr % 64 == 0));
    let again = install(&cache, &return_u32(2));
    assert_eq!(again.addr(), reserved_at);
    assert_eq!(cache.stats().live_stubs, 3);
}

#[test]
fn alignment_is_honoured_and_padding_reused() {
    let cache = small_cache();
    let first = install(&cache, &return_u32(1));
    let aligned = match cache.install_aligned(&return_u32(2), 256) {
        Ok(stub) => stub,
        Err(error) => panic!("install failed: {error}"),
    };
    assert_eq!(aligned.addr() % 256, 0);
    assert!(aligned.addr() > first.addr());
    // The padding before the aligned stub takes later small stubs.
    let small = install(&cache, &return_u32(3));
    assert_eq!(small.addr(), first.addr() + DEFAULT_ALIGN);
    // Alignments below the default are raised to it.
    let four = cache.install_aligned(&return_u32(4), 4);
    assert!(matches!(four, Ok(stub) if stub.addr() % DEFAULT_ALIGN == 0));

    for align in [0, 3, 24] {
        assert!(matches!(
            cache.install_aligned(&[0xc3], align),
            Err(CacheError::InvalidAlignment { .. })
        ));
    }
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(call_u32(aligned), 2);
        assert_eq!(call_u32(small), 3);
    }
}

#[test]
fn bad_requests_are_errors() {
    let cache = small_cache();
    assert!(matches!(cache.install(&[]), Err(CacheError::EmptyCode)));
    assert!(matches!(cache.reserve(0, 16), Err(CacheError::EmptyCode)));
    assert!(matches!(
        CodeCache::new(0),
        Err(CacheError::InvalidCapacity { .. })
    ));
    assert!(matches!(
        CodeCache::new(MAX_CAPACITY + 1),
        Err(CacheError::InvalidCapacity { .. })
    ));
    assert_eq!(cache.stats().live_stubs, 0);
}

#[test]
fn cache_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CodeCache>();
    assert_send_sync::<InstalledCode>();
}

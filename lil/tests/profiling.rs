//! The profiler files a `Jit` writes, read back: the perf map names every
//! stub at its address, and the jitdump file carries each stub's code and
//! its LIL source lines in the format `perf inject --jit` reads.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use lil::debuginfo::LineTable;
use lil::{HostEnv, Jit};
use std::path::PathBuf;

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lil-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

const ADD: &str = "entry 0:platform:g8,g8:g8;\nr = i0 + i1;\nret;\n";
const BRANCHY: &str = "entry 0:platform:g8:g8;\n\
                       jc i0 = 0, zero;\n\
                       r = i0 + 1;\n\
                       ret;\n\
                       :zero;\n\
                       r = 42;\n\
                       ret;\n";

#[test]
fn perf_map_names_each_stub_at_its_address() {
    let mut jit = Jit::new(HostEnv::default()).expect("a JIT");
    let path = jit
        .enable_perf_map()
        .expect("the perf map opens")
        .to_path_buf();
    assert_eq!(
        path,
        PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
    );
    let a = jit.install_named("perf_map_test_add", ADD).unwrap();
    let b = jit.install(BRANCHY).unwrap();
    let map = std::fs::read_to_string(&path).expect("the perf map is readable");
    for (stub, name) in [(&a, "perf_map_test_add".to_string()), (&b, b.symbol_name())] {
        let line = map
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("no line for {name} in\n{map}"));
        let mut fields = line.split(' ');
        let addr = u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
        let len = u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
        assert_eq!(addr, stub.addr() as u64, "{line}");
        assert_eq!(len, stub.compiled().code.len() as u64, "{line}");
    }
    assert!(b.symbol_name().starts_with("lil_stub_"));
}

/// A cursor over little-endian jitdump bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u32(&mut self) -> u32 {
        let (head, rest) = self.0.split_at(4);
        self.0 = rest;
        u32::from_le_bytes(head.try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        let (head, rest) = self.0.split_at(8);
        self.0 = rest;
        u64::from_le_bytes(head.try_into().unwrap())
    }
    fn cstr(&mut self) -> String {
        let end = self.0.iter().position(|&b| b == 0).expect("a NUL");
        let s = String::from_utf8(self.0[..end].to_vec()).unwrap();
        self.0 = &self.0[end + 1..];
        s
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
}

#[derive(Debug)]
enum Record {
    Load {
        pid: u32,
        addr: u64,
        index: u64,
        name: String,
        code: Vec<u8>,
    },
    DebugInfo {
        addr: u64,
        entries: Vec<(u64, u32, String)>,
    },
    Close,
}

fn read_jitdump(bytes: &[u8]) -> (u32, Vec<(u64, Record)>) {
    let mut r = Reader(bytes);
    assert_eq!(r.u32(), 0x4A69_5444, "magic");
    assert_eq!(r.u32(), 1, "version");
    assert_eq!(r.u32(), 40, "header size");
    let machine = r.u32();
    assert_eq!(r.u32(), 0, "pad");
    assert_eq!(r.u32(), std::process::id(), "pid");
    let _timestamp = r.u64();
    assert_eq!(r.u64(), 0, "flags");
    let mut records = Vec::new();
    while !r.0.is_empty() {
        let id = r.u32();
        let size = r.u32() as usize;
        let timestamp = r.u64();
        let mut body = Reader(&r.0[..size - 16]);
        r.0 = &r.0[size - 16..];
        let record = match id {
            0 => {
                let pid = body.u32();
                let _tid = body.u32();
                let vma = body.u64();
                let addr = body.u64();
                assert_eq!(vma, addr);
                let len = body.u64() as usize;
                let index = body.u64();
                let name = body.cstr();
                let code = body.bytes(len);
                Record::Load {
                    pid,
                    addr,
                    index,
                    name,
                    code,
                }
            }
            2 => {
                let addr = body.u64();
                let n = body.u64();
                let entries = (0..n)
                    .map(|_| {
                        let at = body.u64();
                        let line = body.u32();
                        assert_eq!(body.u32(), 0, "discriminator");
                        (at, line, body.cstr())
                    })
                    .collect();
                Record::DebugInfo { addr, entries }
            }
            3 => Record::Close,
            other => panic!("unexpected record type {other}"),
        };
        assert!(
            body.0.is_empty(),
            "record {id} has {} stray bytes",
            body.0.len()
        );
        records.push((timestamp, record));
    }
    (machine, records)
}

#[test]
fn jitdump_holds_code_and_source_lines_of_every_stub() {
    let dir = scratch_dir("jitdump");
    let mut jit = Jit::new(HostEnv::default()).expect("a JIT");
    let path = jit
        .enable_jitdump(&dir)
        .expect("the jitdump file")
        .to_path_buf();
    assert_eq!(path, dir.join(format!("jit-{}.dump", std::process::id())));
    let add = jit.install_named("dump_add", ADD).unwrap();
    let branchy = jit.install_named("dump_branchy", BRANCHY).unwrap();
    // A stub with no text: lines are those of the printed stub.
    let checked = lil::check_text(ADD).unwrap();
    let printed = jit.install_checked(&checked).unwrap();
    let installed = [&add, &branchy, &printed];
    drop(jit);

    let bytes = std::fs::read(&path).expect("the jitdump file is readable");
    let (machine, records) = read_jitdump(&bytes);
    let expected_machine = if cfg!(target_arch = "x86_64") {
        62
    } else {
        183
    };
    assert_eq!(machine, expected_machine);
    assert!(
        matches!(records.last(), Some((_, Record::Close))),
        "ends with a close record"
    );
    assert!(
        records.windows(2).all(|w| w[0].0 <= w[1].0),
        "timestamps never go backwards"
    );

    let loads: Vec<&Record> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| matches!(r, Record::Load { .. }))
        .collect();
    assert_eq!(loads.len(), 3);
    for (k, (load, stub)) in loads.iter().zip(installed).enumerate() {
        let Record::Load {
            pid,
            addr,
            index,
            name,
            code,
        } = load
        else {
            unreachable!()
        };
        assert_eq!(*pid, std::process::id());
        assert_eq!(*addr, stub.addr() as u64);
        assert_eq!(*index, k as u64);
        assert_eq!(*name, stub.symbol_name());
        assert_eq!(*code, stub.compiled().code);
    }

    // Each stub's debug info comes right before its code, and maps its
    // instructions to the LIL lines that produced them.
    for (stub, text) in [
        (&add, Some(ADD)),
        (&branchy, Some(BRANCHY)),
        (&printed, None),
    ] {
        let at = records
            .iter()
            .position(
                |(_, r)| matches!(r, Record::Load { addr, .. } if *addr == stub.addr() as u64),
            )
            .unwrap();
        let Record::DebugInfo { addr, entries } = &records[at - 1].1 else {
            panic!("no debug info before the code of {}", stub.symbol_name());
        };
        assert_eq!(*addr, stub.addr() as u64);
        let file = format!("{}.lil", stub.symbol_name());
        let stub_ast = checked_stub(text.unwrap_or(ADD));
        let table = LineTable::new(stub.compiled(), &stub_ast, text, file.clone());
        let lines: Vec<u32> = entries.iter().map(|e| e.1).collect();
        let expected: Vec<u32> = table.rows.iter().map(|r| r.1).filter(|&l| l != 0).collect();
        assert_eq!(lines, expected, "{}", stub.symbol_name());
        for (entry_addr, _, entry_file) in entries {
            assert!(
                (stub.addr() as u64..stub.addr() as u64 + stub.compiled().code.len() as u64)
                    .contains(entry_addr)
            );
            assert_eq!(*entry_file, file);
        }
        match text {
            // `ret;` on line 3 of ADD, and lines 3 and 6 (`r = …`) of BRANCHY.
            Some(ADD) => assert!(lines.contains(&2) && lines.contains(&3), "{lines:?}"),
            Some(_) => assert!(lines.contains(&3) && lines.contains(&6), "{lines:?}"),
            // Printed: instruction i on line i + 2.
            None => assert_eq!(lines.first(), Some(&2)),
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn checked_stub(text: &str) -> lil::syntax::Stub {
    lil::syntax::parse(text).unwrap()
}

#[test]
fn gdb_registration_follows_install_and_free() {
    let mut jit = Jit::new(HostEnv::default()).expect("a JIT");
    jit.enable_gdb();
    let before = lil::gdb::registered_count();
    let a = jit.install_named("gdb_reg_a", ADD).unwrap();
    let b = jit.install_named("gdb_reg_b", BRANCHY).unwrap();
    // No other test of this binary registers stubs.
    assert_eq!(lil::gdb::registered_count(), before + 2);
    jit.free(a).unwrap();
    assert_eq!(lil::gdb::registered_count(), before + 1);
    // SAFETY: `platform:g8:g8`; `jit` outlives the call.
    let f = unsafe { b.as_fn::<extern "C" fn(u64) -> u64>() };
    assert_eq!(f(0), 42);
    assert_eq!(f(1), 2);
    drop(jit);
    assert_eq!(
        lil::gdb::registered_count(),
        before,
        "dropping the JIT unregisters its stubs"
    );
}

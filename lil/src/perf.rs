//! Profiler integration: make Linux `perf` name the stubs it samples.
//!
//! Two mechanisms, both opt-in per [`crate::Jit`]:
//!
//! - [`PerfMap`]: `/tmp/perf-<pid>.map`, one text line per stub
//!   (`start size name`, hex). `perf report` and `perf top` read it with no
//!   extra step. Cheap; no source lines.
//! - [`JitDump`]: the jitdump format (`tools/perf/Documentation/
//!   jitdump-specification.txt` in Linux), a binary log of every stub's code
//!   and its LIL source lines. Record with `perf record -k mono`, then
//!   `perf inject --jit -i perf.data -o perf.jit.data` turns each stub into
//!   a small ELF file, and `perf report -i perf.jit.data` names stubs,
//!   `perf annotate` shows their instructions under their LIL lines.
//!
//! ```no_run
//! # fn main() -> Result<(), lil::Error> {
//! let mut jit = lil::Jit::new(lil::HostEnv::default())?;
//! jit.enable_perf_map()?;
//! jit.enable_jitdump("/tmp")?;
//! let stub = jit.install_named("add_one", "entry 0:platform:g8:g8; r = i0 + 1; ret;")?;
//! # Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::Error;
use crate::debuginfo::StubImage;
use lil_codegen::Target;

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

/// Appends `start size name` lines to `/tmp/perf-<pid>.map`.
///
/// Every `PerfMap` of a process appends to the same file; each line is one
/// `write` to a file opened for appending, so lines from several JITs and
/// threads never interleave.
#[derive(Debug)]
pub struct PerfMap {
    file: File,
    path: PathBuf,
}

impl PerfMap {
    /// Open (creating if needed) this process's perf map.
    pub fn open() -> Result<PerfMap, Error> {
        PerfMap::open_at(Self::default_path())
    }

    /// Where `perf` looks for this process's map: `/tmp/perf-<pid>.map`.
    pub fn default_path() -> PathBuf {
        PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
    }

    /// Open (creating if needed) a perf map at `path` (for tools that take
    /// the map from elsewhere, and for tests).
    pub fn open_at(path: impl Into<PathBuf>) -> Result<PerfMap, Error> {
        let path = path.into();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(format!(
                "cannot open the perf map {}",
                path.display()
            )))?;
        Ok(PerfMap { file, path })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record that `name` occupies `len` bytes at `addr`.
    pub fn record(&self, addr: u64, len: u64, name: &str) -> Result<(), Error> {
        // Names are one token to `perf`'s parser only up to the newline;
        // keep them on one line.
        let name: String = name
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        let line = format!("{addr:x} {len:x} {name}\n");
        (&self.file)
            .write_all(line.as_bytes())
            .map_err(io_error(format!(
                "cannot write the perf map {}",
                self.path.display()
            )))
    }
}

// ---- jitdump -----------------------------------------------------------------

const JITDUMP_MAGIC: u32 = 0x4A69_5444;
const JITDUMP_VERSION: u32 = 1;
const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_DEBUG_INFO: u32 = 2;
const JIT_CODE_CLOSE: u32 = 3;
const EM_X86_64: u32 = 62;
const EM_AARCH64: u32 = 183;

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `perf record -k mono` uses.
fn timestamp() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

fn thread_id() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// A jitdump file, `<dir>/jit-<pid>.dump`: a header, then for every stub
/// its source lines (`JIT_CODE_DEBUG_INFO`) and its code (`JIT_CODE_LOAD`),
/// and a `JIT_CODE_CLOSE` record when dropped.
///
/// The file is also mapped executable (read-only) once, as the format
/// requires: that mapping is how `perf record` notices the file.
#[derive(Debug)]
pub struct JitDump {
    inner: Mutex<DumpFile>,
    path: PathBuf,
    _marker: memmap2::Mmap,
}

#[derive(Debug)]
struct DumpFile {
    file: File,
    next_index: u64,
}

impl JitDump {
    /// Create `<dir>/jit-<pid>.dump` for code of `target`.
    pub fn create(dir: impl AsRef<Path>, target: Target) -> Result<JitDump, Error> {
        let path = dir
            .as_ref()
            .join(format!("jit-{}.dump", std::process::id()));
        let what = || format!("cannot create the jitdump file {}", path.display());
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error(what()))?;
        let mut header = Vec::with_capacity(40);
        header.extend_from_slice(&JITDUMP_MAGIC.to_le_bytes());
        header.extend_from_slice(&JITDUMP_VERSION.to_le_bytes());
        header.extend_from_slice(&40u32.to_le_bytes());
        let machine = match target {
            Target::X64 => EM_X86_64,
            Target::Arm64 => EM_AARCH64,
        };
        header.extend_from_slice(&machine.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&std::process::id().to_le_bytes());
        header.extend_from_slice(&timestamp().to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes()); // flags
        file.write_all(&header).map_err(io_error(what()))?;
        // SAFETY: the mapping is never read through (it only marks the file
        // for `perf record`); the file stays open as long as the map.
        let marker = unsafe { memmap2::MmapOptions::new().len(4096).map_exec(&file) }
            .map_err(io_error(what()))?;
        Ok(JitDump {
            inner: Mutex::new(DumpFile {
                file,
                next_index: 0,
            }),
            path,
            _marker: marker,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append the debug-info and code-load records of an installed stub.
    pub fn record(&self, image: &StubImage<'_>) -> Result<(), Error> {
        let compiled = image.compiled;
        let now = timestamp();
        let mut records = Vec::with_capacity(256 + compiled.code.len());

        // JIT_CODE_DEBUG_INFO: must precede the code it describes.
        let file_name = image.lines.file.as_bytes();
        let entries: Vec<(u32, u32)> = image
            .lines
            .rows
            .iter()
            .copied()
            .filter(|&(_, line)| line != 0)
            .collect();
        if !entries.is_empty() {
            let size = 16 + 16 + entries.len() * (16 + file_name.len() + 1);
            records.extend_from_slice(&JIT_CODE_DEBUG_INFO.to_le_bytes());
            records.extend_from_slice(&(size as u32).to_le_bytes());
            records.extend_from_slice(&now.to_le_bytes());
            records.extend_from_slice(&image.addr.to_le_bytes());
            records.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (offset, line) in entries {
                records.extend_from_slice(&(image.addr + u64::from(offset)).to_le_bytes());
                records.extend_from_slice(&line.to_le_bytes());
                records.extend_from_slice(&0u32.to_le_bytes()); // discriminator
                records.extend_from_slice(file_name);
                records.push(0);
            }
        }

        let mut dump = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // JIT_CODE_LOAD.
        let name = image.name.as_bytes();
        let code = &compiled.code;
        let size = 16 + 40 + name.len() + 1 + code.len();
        records.extend_from_slice(&JIT_CODE_LOAD.to_le_bytes());
        records.extend_from_slice(&(size as u32).to_le_bytes());
        records.extend_from_slice(&now.to_le_bytes());
        records.extend_from_slice(&std::process::id().to_le_bytes());
        records.extend_from_slice(&thread_id().to_le_bytes());
        records.extend_from_slice(&image.addr.to_le_bytes()); // vma
        records.extend_from_slice(&image.addr.to_le_bytes()); // code_addr
        records.extend_from_slice(&(code.len() as u64).to_le_bytes());
        records.extend_from_slice(&dump.next_index.to_le_bytes());
        records.extend_from_slice(name);
        records.push(0);
        records.extend_from_slice(code);
        dump.next_index += 1;
        dump.file.write_all(&records).map_err(io_error(format!(
            "cannot write the jitdump file {}",
            self.path.display()
        )))
    }
}

impl Drop for JitDump {
    fn drop(&mut self) {
        let mut close = Vec::with_capacity(16);
        close.extend_from_slice(&JIT_CODE_CLOSE.to_le_bytes());
        close.extend_from_slice(&16u32.to_le_bytes());
        close.extend_from_slice(&timestamp().to_le_bytes());
        let dump = self
            .inner
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Nothing to report to: a missing close record only makes `perf
        // inject` stop at the end of the file, as it would anyway.
        let _ = dump.file.write_all(&close);
    }
}

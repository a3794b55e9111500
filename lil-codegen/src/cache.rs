//! The code cache: the executable memory every backend installs generated
//! stubs into.
//!
//! One [`CodeCache`] reserves a fixed capacity up front as a `memfd` that is
//! mapped twice: a read-write view the cache writes code through, and a
//! read-execute view whose addresses are the only ones callers ever see.
//! Stubs are packed many to a page by a bump allocator backed by a first-fit
//! free list, so installing a stub is a lock, a copy and (on AArch64) a cache
//! flush: no `mmap` or `mprotect` per stub.
//!
//! # Invariants
//!
//! - **W^X.** No mapping the cache creates is writable and executable at
//!   once: the read-write view is `rw-` and the read-execute view is `r-x`
//!   for the whole life of the cache. Addresses in the read-write view never
//!   leave this module.
//! - **Exclusive ranges.** A byte range is handed to exactly one installer
//!   (under the lock) before it is written, and the write happens outside
//!   the lock. Code is published only after a `Release` fence and, on
//!   AArch64, after the data cache has been cleaned and the instruction cache
//!   invalidated for that range.

use std::fs::File;
use std::io;
use std::mem::size_of;
use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};

use memmap2::{Mmap, MmapMut, MmapOptions};
use thiserror::Error;

/// The capacity [`CodeCache::with_default_capacity`] reserves: 256 MiB of
/// address space, of which only the pages actually written are committed.
pub const DEFAULT_CAPACITY: usize = 256 << 20;

/// The largest capacity a cache may have (2 GiB).
///
/// Offsets are kept in 32 bits to keep bookkeeping small, and within 2 GiB any
/// stub can reach any other with an x86-64 `rel32` branch.
pub const MAX_CAPACITY: usize = 1 << 31;

/// The alignment [`CodeCache::install`] gives every stub, and the smallest
/// unit of allocation: every stub occupies a multiple of this many bytes.
pub const DEFAULT_ALIGN: usize = 16;

/// `MFD_EXEC` (Linux 6.3+): asks for an executable memfd even when
/// `vm.memfd_noexec` makes new memfds non-executable by default. Defined here
/// because not every libc target exposes it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MFD_EXEC: libc::c_uint = 0x0010;

/// Marks the end of the vacant-slot chain.
const NO_SLOT: u32 = u32::MAX;

/// What can go wrong creating a code cache or installing into it.
#[derive(Debug, Error)]
pub enum CacheError {
    /// No free range is large enough for the request.
    #[error(
        "code cache full: no free range of {requested} bytes aligned to {align} \
         in a cache of {capacity} bytes"
    )]
    Full {
        /// Bytes asked for (before rounding up to [`DEFAULT_ALIGN`]).
        requested: usize,
        /// Effective alignment of the request.
        align: usize,
        /// Capacity of the cache.
        capacity: usize,
    },
    /// The requested alignment is not a power of two.
    #[error("code alignment {align} is not a power of two")]
    InvalidAlignment {
        /// The alignment asked for.
        align: usize,
    },
    /// The requested capacity is zero or larger than [`MAX_CAPACITY`].
    #[error("code cache capacity {requested} bytes is out of range (1 to {max} bytes)")]
    InvalidCapacity {
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity allowed.
        max: usize,
    },
    /// A stub must contain at least one byte of code.
    #[error("cannot install an empty stub: code must be at least one byte")]
    EmptyCode,
    /// [`Reservation::commit`] was given more code than was reserved.
    #[error("{len} bytes of code do not fit the {reserved} bytes reserved for them")]
    CodeTooLarge {
        /// Length of the code given.
        len: usize,
        /// Length of the reservation.
        reserved: usize,
    },
    /// The handle passed to [`CodeCache::free`] does not name a live stub of
    /// this cache.
    #[error(
        "stub at {addr:#x} (id {id:#x}) is not live in this code cache: \
         freed twice, or a handle from another cache"
    )]
    NotLive {
        /// Address in the handle.
        addr: usize,
        /// Id in the handle.
        id: u64,
    },
    /// Every stub record is in use (more than `u32::MAX` records).
    #[error("code cache has run out of stub records")]
    TooManyStubs,
    /// `memfd_create` failed.
    #[error("could not create the memfd backing the code cache: {0}")]
    CreateMemfd(#[source] io::Error),
    /// Sizing the memfd to the capacity (`ftruncate`) failed.
    #[error("could not size the code cache memfd to {capacity} bytes: {source}")]
    Resize {
        /// The capacity asked for.
        capacity: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Mapping the read-write view failed.
    #[error("could not map the read-write view of the code cache: {0}")]
    MapWritable(#[source] io::Error),
    /// Mapping the read-execute view failed (for example, the system forbids
    /// executable shared memory).
    #[error("could not map the read-execute view of the code cache: {0}")]
    MapExecutable(#[source] io::Error),
    /// The host OS has no `memfd_create`.
    #[error("the code cache needs memfd_create, which this OS does not provide")]
    Unsupported,
}

/// A stub installed in a [`CodeCache`]: where it is, how long it is, and the
/// id [`CodeCache::free`] uses to check the handle is still live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstalledCode {
    addr: usize,
    id: u64,
    len: u32,
}

impl InstalledCode {
    /// Address of the first byte of the stub in the read-execute view: the
    /// address to call or jump to.
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Number of code bytes installed (not counting alignment padding).
    #[expect(
        clippy::len_without_is_empty,
        reason = "an installed stub is never empty"
    )]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// An id unique among the stubs live in this cache at one time; a freed
    /// stub's id is not reused by the next stub in the same record.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The stub's entry point as a function pointer type `F`, such as
    /// `extern "C" fn(u64) -> u64`. `F` must be pointer-sized (checked at
    /// compile time).
    ///
    /// # Safety
    ///
    /// `F` must be an `extern` function pointer type whose ABI and signature
    /// match the stub's entry, and the cache must keep the stub (not freed,
    /// not dropped) for as long as the result is called.
    pub unsafe fn as_fn<F: Copy>(&self) -> F {
        const {
            assert!(
                size_of::<F>() == size_of::<usize>(),
                "as_fn needs a function pointer type"
            )
        };
        // SAFETY: `F` is pointer-sized (checked above); the caller vouches
        // that it is a function pointer type matching the code at `addr`.
        unsafe { std::mem::transmute_copy::<usize, F>(&self.addr) }
    }
}

/// A snapshot of a cache's occupancy, from [`CodeCache::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes of address space reserved for code.
    pub capacity: usize,
    /// Code bytes of live stubs (not counting alignment padding).
    pub code_bytes: usize,
    /// Number of live stubs.
    pub live_stubs: usize,
    /// Heap bytes the cache holds for its records (stub records and free
    /// ranges, counted at their allocated capacity).
    pub bookkeeping_bytes: usize,
    /// Bytes of pages ever handed out: the high-water mark of allocation,
    /// rounded up to pages. The memfd commits a page only when first touched,
    /// so pages above this mark cost no memory.
    pub committed_bytes: usize,
}

/// A range of a [`CodeCache`] set aside for code that must know its final
/// address before it is emitted (PC-relative references, self-addresses).
///
/// Write the code for [`Reservation::addr`], then [`Reservation::commit`] it.
/// Dropping a reservation without committing returns the range to the cache.
#[derive(Debug)]
pub struct Reservation<'cache> {
    cache: &'cache CodeCache,
    offset: u32,
    allocated: u32,
    len: u32,
}

impl Reservation<'_> {
    /// The read-execute address the committed code will start at.
    pub fn addr(&self) -> usize {
        self.cache.rx_base + self.offset as usize
    }

    /// The most code bytes [`Reservation::commit`] accepts.
    #[expect(clippy::len_without_is_empty, reason = "a reservation is never empty")]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Writes `code` at [`Reservation::addr`] and makes it a live stub. The
    /// reserved bytes past `code` go back to the cache.
    ///
    /// On error the whole reservation goes back to the cache.
    pub fn commit(self, code: &[u8]) -> Result<InstalledCode, CacheError> {
        if code.is_empty() {
            return Err(CacheError::EmptyCode);
        }
        if code.len() > self.len() {
            return Err(CacheError::CodeTooLarge {
                len: code.len(),
                reserved: self.len(),
            });
        }
        let cache = self.cache;
        let offset = self.offset;
        let used = granules(code.len());
        let id = {
            let mut state = cache.lock();
            let id = state.new_slot(offset, code.len());
            // Give back the tail only on success: on failure `self`'s drop
            // (after the lock is released) returns the whole range.
            if id.is_ok() && used < self.allocated as usize {
                state.release(offset as usize + used, self.allocated as usize - used);
            }
            id
        }?;
        // The range now belongs to the stub, not the reservation.
        std::mem::forget(self);
        Ok(cache.write(offset as usize, code, id))
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.cache
            .lock()
            .release(self.offset as usize, self.allocated as usize);
    }
}

/// Executable memory for generated stubs, shared by every thread through
/// `&self`.
///
/// Stubs stay valid (their addresses callable) until they are freed or the
/// cache is dropped. The cache is backed by a shared memfd mapping: a child
/// created by `fork` shares it and must not install into it.
///
/// ```
/// use lil_codegen::cache::CodeCache;
///
/// let cache = CodeCache::new(1 << 20)?;
/// // mov eax, 42; ret
/// let stub = cache.install(&[0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3])?;
/// assert!(cache.contains(stub.addr()));
/// assert_eq!(cache.stats().live_stubs, 1);
/// cache.free(stub)?;
/// # Ok::<(), lil_codegen::cache::CacheError>(())
/// ```
pub struct CodeCache {
    /// Start of the read-write view; written only inside ranges the writer
    /// was given under `state`'s lock.
    rw_base: NonNull<u8>,
    /// Start of the read-execute view.
    rx_base: usize,
    capacity: usize,
    page_size: usize,
    state: Mutex<State>,
    /// Keeps the read-write view mapped; accessed through `rw_base`.
    _rw: MmapMut,
    /// Keeps the read-execute view mapped.
    _rx: Mmap,
}

// SAFETY: `rw_base` points into `_rw`, which lives as long as the cache. It is
// only written through ranges handed out exclusively under the `state` mutex,
// so concurrent `&self` callers never write the same byte. Every other field
// is `Send + Sync`.
unsafe impl Send for CodeCache {}
// SAFETY: as for `Send`.
unsafe impl Sync for CodeCache {}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeCache")
            .field("rx_range", &self.rx_range())
            .field("stats", &self.stats())
            .finish()
    }
}

impl CodeCache {
    /// Creates a cache with [`DEFAULT_CAPACITY`] bytes of address space.
    pub fn with_default_capacity() -> Result<Self, CacheError> {
        Self::new(DEFAULT_CAPACITY)
    }

    /// Creates a cache reserving `capacity_bytes` (rounded up to whole pages)
    /// of address space. Pages are committed only as code is written to them.
    pub fn new(capacity_bytes: usize) -> Result<Self, CacheError> {
        let page_size = page_size();
        let invalid = CacheError::InvalidCapacity {
            requested: capacity_bytes,
            max: MAX_CAPACITY,
        };
        if capacity_bytes == 0 || capacity_bytes > MAX_CAPACITY {
            return Err(invalid);
        }
        let capacity = match capacity_bytes.checked_next_multiple_of(page_size) {
            Some(capacity) if capacity <= MAX_CAPACITY => capacity,
            _ => return Err(invalid),
        };

        let file = create_memfd()?;
        file.set_len(capacity as u64)
            .map_err(|source| CacheError::Resize { capacity, source })?;
        // SAFETY: the memfd is private to this cache: nothing else holds its
        // descriptor (close-on-exec, dropped once mapped), so nothing
        // truncates it or writes it behind the cache's back.
        let mut rw = unsafe { MmapOptions::new().len(capacity).map_mut(&file) }
            .map_err(CacheError::MapWritable)?;
        // SAFETY: as above.
        let rx = unsafe { MmapOptions::new().len(capacity).map_exec(&file) }
            .map_err(CacheError::MapExecutable)?;
        // The mappings keep the memory object alive; the descriptor is no
        // longer needed.
        drop(file);

        let rw_base = NonNull::new(rw.as_mut_ptr()).ok_or_else(|| {
            CacheError::MapWritable(io::Error::other("mapping returned a null address"))
        })?;
        let rx_base = rx.as_ptr() as usize;
        Ok(Self {
            rw_base,
            rx_base,
            capacity,
            page_size,
            state: Mutex::new(State::new()),
            _rw: rw,
            _rx: rx,
        })
    }

    /// Installs `code` aligned to [`DEFAULT_ALIGN`] bytes and returns its
    /// handle. The code is callable at [`InstalledCode::addr`] once this
    /// returns.
    pub fn install(&self, code: &[u8]) -> Result<InstalledCode, CacheError> {
        self.install_aligned(code, DEFAULT_ALIGN)
    }

    /// Installs `code` at an address that is a multiple of `align` (a power
    /// of two; alignments below [`DEFAULT_ALIGN`] are raised to it).
    pub fn install_aligned(&self, code: &[u8], align: usize) -> Result<InstalledCode, CacheError> {
        if code.is_empty() {
            return Err(CacheError::EmptyCode);
        }
        let align = effective_align(align)?;
        let (offset, id) = {
            let mut state = self.lock();
            let offset = self.allocate(&mut state, code.len(), align)?;
            match state.new_slot(offset, code.len()) {
                Ok(id) => (offset, id),
                Err(error) => {
                    state.release(offset as usize, granules(code.len()));
                    return Err(error);
                }
            }
        };
        Ok(self.write(offset as usize, code, id))
    }

    /// Sets aside `len` bytes aligned to `align` (as in
    /// [`CodeCache::install_aligned`]) for code that must know its address
    /// before it is emitted.
    pub fn reserve(&self, len: usize, align: usize) -> Result<Reservation<'_>, CacheError> {
        if len == 0 {
            return Err(CacheError::EmptyCode);
        }
        let align = effective_align(align)?;
        let offset = self.allocate(&mut self.lock(), len, align)?;
        Ok(Reservation {
            cache: self,
            offset,
            // `allocate` succeeded, so both fit in the (32-bit) capacity.
            allocated: granules(len) as u32,
            len: len as u32,
        })
    }

    /// Frees a stub; later installs may reuse its bytes.
    ///
    /// No thread may be executing the stub, or execute it afterwards. A
    /// handle that is not live in this cache (already freed, or from another
    /// cache) is refused with [`CacheError::NotLive`] and changes nothing.
    pub fn free(&self, code: InstalledCode) -> Result<(), CacheError> {
        let not_live = CacheError::NotLive {
            addr: code.addr,
            id: code.id,
        };
        let index = (code.id & u64::from(u32::MAX)) as usize;
        let generation = (code.id >> 32) as u32;
        let mut state = self.lock();
        let Some(slot) = state.slots.get(index).copied() else {
            return Err(not_live);
        };
        let matches = slot.is_live()
            && slot.generation == generation
            && slot.len == code.len
            && self.rx_base + slot.offset as usize == code.addr;
        if !matches {
            return Err(not_live);
        }
        state.release(slot.offset as usize, granules(slot.len as usize));
        state.free_slot(index, slot);
        Ok(())
    }

    /// Occupancy of the cache right now.
    pub fn stats(&self) -> CacheStats {
        let state = self.lock();
        let committed = (state.high_water as usize)
            .checked_next_multiple_of(self.page_size)
            .unwrap_or(self.capacity)
            .min(self.capacity);
        CacheStats {
            capacity: self.capacity,
            code_bytes: state.code_bytes,
            live_stubs: state.live_stubs,
            bookkeeping_bytes: state.slots.capacity() * size_of::<Slot>()
                + state.free.capacity() * size_of::<FreeRange>(),
            committed_bytes: committed,
        }
    }

    /// Whether `addr` lies in the cache's read-execute view (live stub or
    /// not): for example, whether a return address is in generated code.
    pub fn contains(&self, addr: usize) -> bool {
        self.rx_range().contains(&addr)
    }

    /// The cache's read-execute address range.
    pub fn rx_range(&self) -> Range<usize> {
        self.rx_base..self.rx_base + self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No critical section panics, so a poisoned lock still guards a
        // consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds `len` bytes whose read-execute address is a multiple of `align`.
    fn allocate(&self, state: &mut State, len: usize, align: usize) -> Result<u32, CacheError> {
        let full = CacheError::Full {
            requested: len,
            align,
            capacity: self.capacity,
        };
        if len > self.capacity {
            return Err(full);
        }
        state
            .allocate(granules(len), align, self.rx_base, self.capacity)
            .ok_or(full)
    }

    /// Copies `code` to its exclusively owned range and publishes it.
    fn write(&self, offset: usize, code: &[u8], id: u64) -> InstalledCode {
        debug_assert!(offset + code.len() <= self.capacity);
        // SAFETY: `offset..offset + code.len()` lies inside the read-write
        // view and was allocated to this caller alone under the lock; nobody
        // executes it until the handle is returned.
        let destination = unsafe { self.rw_base.as_ptr().add(offset) };
        // SAFETY: as above; `code` is a separate allocation, so no overlap.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), destination, code.len()) };
        // The code bytes must be visible before the handle is passed to
        // another thread.
        fence(Ordering::Release);
        let addr = self.rx_base + offset;
        synchronize_instruction_cache(destination as usize, addr, code.len());
        InstalledCode {
            addr,
            id,
            // `allocate` succeeded, so the length fits the 32-bit capacity.
            len: code.len() as u32,
        }
    }
}

/// One stub record. Live while `generation` is odd; a vacant record's
/// `offset` links to the next vacant record.
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u32,
    len: u32,
    generation: u32,
}

impl Slot {
    fn is_live(&self) -> bool {
        self.generation % 2 == 1
    }
}

/// A free byte range below the bump pointer.
#[derive(Debug, Clone, Copy)]
struct FreeRange {
    offset: u32,
    len: u32,
}

impl FreeRange {
    fn end(&self) -> usize {
        self.offset as usize + self.len as usize
    }
}

/// Everything behind the cache's lock. All offsets and lengths are multiples
/// of [`DEFAULT_ALIGN`].
#[derive(Debug)]
struct State {
    /// Bump pointer: nothing at or above it is allocated or free-listed.
    top: u32,
    /// Highest `top` ever reached.
    high_water: u32,
    /// Free ranges below `top`: sorted, disjoint, never adjacent to each
    /// other or ending at `top`.
    free: Vec<FreeRange>,
    /// Stub records, indexed by the low half of a stub's id.
    slots: Vec<Slot>,
    /// First vacant record, or [`NO_SLOT`].
    vacant_head: u32,
    live_stubs: usize,
    code_bytes: usize,
}

impl State {
    fn new() -> Self {
        Self {
            top: 0,
            high_water: 0,
            free: Vec::new(),
            slots: Vec::new(),
            vacant_head: NO_SLOT,
            live_stubs: 0,
            code_bytes: 0,
        }
    }

    /// First fit in the free list, else bump. `len` is already rounded to
    /// granules, `align` is a power of two ([`effective_align`]); returns
    /// the offset.
    fn allocate(
        &mut self,
        len: usize,
        align: usize,
        rx_base: usize,
        capacity: usize,
    ) -> Option<u32> {
        // Rounded up with a mask: `checked_next_multiple_of` divides (a
        // 64-bit division, tens of cycles, on every install).
        debug_assert!(align.is_power_of_two());
        let mask = align - 1;
        let aligned = |offset: usize| -> Option<usize> {
            Some((rx_base.checked_add(offset)?.checked_add(mask)? & !mask) - rx_base)
        };
        for index in 0..self.free.len() {
            let range = self.free[index];
            let Some(start) = aligned(range.offset as usize) else {
                continue;
            };
            let end = start.checked_add(len)?;
            if end > range.end() {
                continue;
            }
            let lead = start - range.offset as usize;
            let tail = range.end() - end;
            match (lead, tail) {
                (0, 0) => {
                    self.free.remove(index);
                }
                (0, _) => {
                    self.free[index] = FreeRange {
                        offset: end as u32,
                        len: tail as u32,
                    };
                }
                (_, 0) => self.free[index].len = lead as u32,
                (_, _) => {
                    self.free[index].len = lead as u32;
                    self.free.insert(
                        index + 1,
                        FreeRange {
                            offset: end as u32,
                            len: tail as u32,
                        },
                    );
                }
            }
            return Some(start as u32);
        }

        let top = self.top as usize;
        let start = aligned(top)?;
        let end = start.checked_add(len)?;
        if end > capacity {
            return None;
        }
        if start > top {
            // Keep the alignment padding for later, smaller stubs.
            self.push_free_below_top(top, start - top);
        }
        // `end <= capacity <= MAX_CAPACITY`, so it fits in 32 bits.
        self.top = end as u32;
        self.high_water = self.high_water.max(self.top);
        Some(start as u32)
    }

    /// Adds the range `offset..offset + len`, which ends at the current top,
    /// before the top moves above it.
    fn push_free_below_top(&mut self, offset: usize, len: usize) {
        match self.free.last_mut() {
            Some(last) if last.end() == offset => last.len += len as u32,
            _ => self.free.push(FreeRange {
                offset: offset as u32,
                len: len as u32,
            }),
        }
    }

    /// Returns `offset..offset + len` (granule-rounded) to the free space,
    /// merging it with its neighbours.
    fn release(&mut self, offset: usize, len: usize) {
        let end = offset + len;
        if end == self.top as usize {
            self.top = offset as u32;
            if let Some(last) = self.free.last()
                && last.end() == offset
            {
                self.top = last.offset;
                self.free.pop();
            }
            return;
        }
        let index = self
            .free
            .partition_point(|range| (range.offset as usize) < offset);
        debug_assert!(index == 0 || self.free[index - 1].end() <= offset);
        debug_assert!(index == self.free.len() || end <= self.free[index].offset as usize);
        let merges_before = index > 0 && self.free[index - 1].end() == offset;
        let merges_after = index < self.free.len() && self.free[index].offset as usize == end;
        match (merges_before, merges_after) {
            (true, true) => {
                let after = self.free.remove(index);
                self.free[index - 1].len += len as u32 + after.len;
            }
            (true, false) => self.free[index - 1].len += len as u32,
            (false, true) => {
                let after = &mut self.free[index];
                after.offset = offset as u32;
                after.len += len as u32;
            }
            (false, false) => self.free.insert(
                index,
                FreeRange {
                    offset: offset as u32,
                    len: len as u32,
                },
            ),
        }
    }

    /// Records a live stub at `offset` and returns its id.
    fn new_slot(&mut self, offset: u32, len: usize) -> Result<u64, CacheError> {
        let index = if self.vacant_head != NO_SLOT {
            let index = self.vacant_head;
            self.vacant_head = self.slots[index as usize].offset;
            index
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&index| index != NO_SLOT)
                .ok_or(CacheError::TooManyStubs)?;
            self.slots.push(Slot {
                offset: 0,
                len: 0,
                generation: 0,
            });
            index
        };
        let slot = &mut self.slots[index as usize];
        slot.generation += 1;
        slot.offset = offset;
        slot.len = len as u32;
        let generation = slot.generation;
        self.live_stubs += 1;
        self.code_bytes += len;
        Ok((u64::from(generation) << 32) | u64::from(index))
    }

    /// Marks record `index` (currently `slot`, live) vacant.
    fn free_slot(&mut self, index: usize, slot: Slot) {
        self.live_stubs -= 1;
        self.code_bytes -= slot.len as usize;
        let generation = slot.generation + 1;
        let retire = generation >= u32::MAX - 1;
        self.slots[index] = Slot {
            // A record whose generation would wrap is never reused, so an old
            // handle can never match a new stub.
            offset: if retire { NO_SLOT } else { self.vacant_head },
            len: 0,
            generation,
        };
        if !retire {
            self.vacant_head = index as u32;
        }
    }
}

/// Bytes a stub of `len` code bytes occupies.
fn granules(len: usize) -> usize {
    len.div_ceil(DEFAULT_ALIGN) * DEFAULT_ALIGN
}

fn effective_align(align: usize) -> Result<usize, CacheError> {
    if !align.is_power_of_two() {
        return Err(CacheError::InvalidAlignment { align });
    }
    Ok(align.max(DEFAULT_ALIGN))
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|size| size.is_power_of_two())
        .unwrap_or(4096)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn create_memfd() -> Result<File, CacheError> {
    use std::os::fd::{FromRawFd, OwnedFd};

    let name = c"lil-code-cache";
    // SAFETY: `name` is NUL-terminated and the flags are valid.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | MFD_EXEC) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // Kernels before 6.3 do not know MFD_EXEC; their memfds are
        // executable anyway.
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    }
    if fd < 0 {
        return Err(CacheError::CreateMemfd(io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn create_memfd() -> Result<File, CacheError> {
    Err(CacheError::Unsupported)
}

/// Makes freshly written code at `rw` (read-write view) visible to
/// instruction fetch at `rx` (read-execute view) on this core.
///
/// Cleans the data cache to the point of unification by the read-write
/// address, then invalidates the instruction cache by the read-execute
/// address, as the Arm ARM prescribes for self-modifying code. `ic ivau` is
/// broadcast to the inner-shareable domain; each core that runs the code
/// synchronises its own pipeline through whatever hands it the address.
#[cfg(target_arch = "aarch64")]
fn synchronize_instruction_cache(rw: usize, rx: usize, len: usize) {
    use core::arch::asm;

    /// CTR_EL0.IDC: data-cache clean to PoU not required for coherence.
    const IDC: u64 = 1 << 28;
    /// CTR_EL0.DIC: instruction-cache invalidation not required.
    const DIC: u64 = 1 << 29;

    let ctr: u64;
    // SAFETY: Linux lets EL0 read CTR_EL0 (directly or by trap-and-emulate).
    unsafe {
        asm!("mrs {ctr}, ctr_el0", ctr = out(reg) ctr, options(nomem, nostack, preserves_flags));
    }
    // DminLine and IminLine are log2 of the line size in 4-byte words.
    let dcache_line = 4usize << ((ctr >> 16) & 0xf);
    let icache_line = 4usize << (ctr & 0xf);

    if ctr & IDC == 0 {
        let mut line = rw & !(dcache_line - 1);
        while line < rw + len {
            // SAFETY: `line` is in the read-write view, which is mapped;
            // cleaning a cache line does not change memory contents.
            unsafe {
                asm!("dc cvau, {line}", line = in(reg) line, options(nostack, preserves_flags))
            };
            line += dcache_line;
        }
    }
    // SAFETY: barriers have no operands.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    if ctr & DIC == 0 {
        let mut line = rx & !(icache_line - 1);
        while line < rx + len {
            // SAFETY: `line` is in the read-execute view, which is mapped.
            unsafe {
                asm!("ic ivau, {line}", line = in(reg) line, options(nostack, preserves_flags))
            };
            line += icache_line;
        }
        // SAFETY: barriers have no operands.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    }
    // SAFETY: barriers have no operands.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// x86-64 keeps instruction fetch coherent with stores (also through another
/// mapping of the same page); only the compiler must not sink the copy past
/// the publication, which the `Release` fence already ensures.
#[cfg(not(target_arch = "aarch64"))]
fn synchronize_instruction_cache(_rw: usize, _rx: usize, _len: usize) {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

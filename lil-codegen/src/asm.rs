//! The assembling buffer both emitters write into: what `dynasm!` needs of
//! an assembler ([`DynasmApi`], [`DynasmLabelApi`]), with the bookkeeping
//! sized for stubs.
//!
//! Why not `dynasmrt::VecAssembler`: a stub is compiled in a few thousand
//! host instructions, and that assembler spends several hundred of them
//! on bookkeeping a stub does not need: hash maps for static labels, two
//! vectors (label offsets, relocations) that are allocated and grown on
//! first use, and a commit pass that drains them. Here labels and
//! relocations live inline (on the heap only for long stubs), and the only
//! allocation is the code buffer itself, which [`Assembler::finalize`]
//! hands out as the stub's code without copying.
//!
//! Invariant: the bytes, and the errors, are `VecAssembler`'s: patches go
//! through dynasm's own [`PatchLoc`] and [`Relocation`] encoders, labels
//! resolve by the same rules (a local label reference binds to the latest
//! definition before it, `>name` to the next one after it), and failures
//! are reported as the same [`DynasmError`]s, the first pending error
//! first, then relocations in the order they were made.

use std::cell::RefCell;

use dynasmrt::components::{LabelRegistry, PatchLoc};
use dynasmrt::relocations::Relocation;
use dynasmrt::{
    AssemblyOffset, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, LabelKind, TargetKind,
};
use smallvec::SmallVec;

/// A local (version ≥ 1: the how-manieth definition of that name) or
/// global (version 0) label.
type StaticLabel = (&'static str, usize);

/// An assembler writing into a `Vec<u8>`, for relocations of kind `R`.
#[derive(Debug)]
pub struct Assembler<R: Relocation> {
    ops: Vec<u8>,
    /// Offset of each dynamic label (by id), [`UNBOUND`] until bound.
    dynamic: SmallVec<[u32; 8]>,
    /// Relocations to dynamic labels (by id), in the order they were made.
    dynamic_relocs: SmallVec<[(u32, Patch<R>); 8]>,
    /// Static labels as defined, with their offsets, and relocations to
    /// them (only a prologue's stack-probe loop has any: no inline space).
    statics: Vec<(StaticLabel, u32)>,
    static_relocs: Vec<(StaticLabel, PatchLoc<R>)>,
    error: Option<DynasmError>,
}

/// The offset of a dynamic label not bound yet.
const UNBOUND: u32 = u32::MAX;

/// The displacement field of a branch to a dynamic label that the
/// emitter encoded by hand ([`Assembler::branch_to`]).
///
/// Why: a stub's jumps are a few fixed forms, and going through
/// `dynasm!`'s relocation machinery (a [`PatchLoc`] recorded per jump,
/// then decoded and written field by field by [`Relocation::write_value`])
/// costs several times the encoding. Each form here writes what dynasm's
/// relocation of the same instruction writes, and fails where it fails
/// (`branches_match_dynasm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchField {
    /// x86-64 `jcc rel32` / `jmp rel32`: the 4 bytes before the recorded
    /// offset, relative to it.
    Rel32,
    /// AArch64 `b`: bits 0..26 of the instruction before the recorded
    /// offset, in words relative to that instruction.
    Imm26,
    /// AArch64 `b.cond`, `cbz`, `cbnz`: bits 5..24, as `Imm26`.
    Imm19,
}

/// A relocation to a dynamic label.
#[derive(Debug)]
enum Patch<R: Relocation> {
    /// Made by `dynasm!`, patched by dynasm's encoders.
    Dynasm(PatchLoc<R>),
    /// A hand-encoded branch whose field ends at offset `at`.
    Branch { at: u32, field: BranchField },
}

/// Write the displacement of the branch whose field ends at `at` to
/// `target` into `ops`; `false` if it does not fit (or is misaligned).
fn patch_branch(ops: &mut [u8], at: usize, field: BranchField, target: usize) -> bool {
    let Some(start) = at.checked_sub(4) else {
        return false;
    };
    let Some(word) = ops.get_mut(start..).and_then(|b| b.first_chunk_mut::<4>()) else {
        return false;
    };
    match field {
        BranchField::Rel32 => match i32::try_from(target as i64 - at as i64) {
            Ok(rel) => *word = rel.to_le_bytes(),
            Err(_) => return false,
        },
        BranchField::Imm26 | BranchField::Imm19 => {
            let (bits, shift) = if field == BranchField::Imm26 {
                (26, 0)
            } else {
                (19, 5)
            };
            let rel = target as i64 - start as i64;
            let words = rel >> 2;
            if rel & 3 != 0 || words >= 1 << (bits - 1) || words < -(1 << (bits - 1)) {
                return false;
            }
            let mask = (1u32 << bits) - 1;
            let inst = u32::from_le_bytes(*word) | (words as u32 & mask) << shift;
            *word = inst.to_le_bytes();
        }
    }
    true
}

thread_local! {
    /// Dynamic label ids. `dynasmrt` gives `DynamicLabel` no constructor
    /// (it is an index its `LabelRegistry` hands out in order), so ids are
    /// minted once per thread and reused by every compilation: id `k` is
    /// the `k`-th label a compilation creates, as with a fresh registry.
    /// (`const`-initialised: no lazy-initialisation test on each use.)
    static LABEL_IDS: RefCell<Vec<DynamicLabel>> = const { RefCell::new(Vec::new()) };
}

/// The `k`-th dynamic label id.
#[inline]
fn label_id(k: usize) -> DynamicLabel {
    LABEL_IDS.with_borrow_mut(|ids| {
        if ids.len() <= k {
            mint(ids, k);
        }
        ids[k]
    })
}

/// Make `ids` the ids of labels `first..first + n` ([`Assembler::new_dynamic_labels`]
/// when the ids it was given are not those).
#[cold]
#[inline(never)]
fn look_up_ids(first: usize, n: usize, ids: &mut SmallVec<[DynamicLabel; 8]>) {
    ids.clear();
    LABEL_IDS.with_borrow_mut(|all| {
        if all.len() < first + n {
            mint(all, first + n - 1);
        }
        ids.extend_from_slice(&all[first..first + n]);
    });
}

/// Mint ids `0..=k` at least (by the doubling, a thread mints a few times).
#[cold]
#[inline(never)]
fn mint(ids: &mut Vec<DynamicLabel>, k: usize) {
    let mut registry = LabelRegistry::new();
    let n = (k + 1).max(2 * ids.len()).max(64);
    ids.clear();
    ids.extend((0..n).map(|_| registry.new_dynamic_label()));
}

impl<R: Relocation> Assembler<R> {
    /// An empty assembler whose buffer holds `capacity` bytes before it
    /// grows.
    #[inline]
    pub fn with_capacity(capacity: usize) -> Assembler<R> {
        Assembler::reusing(Vec::new(), capacity)
    }

    /// An empty assembler writing into `buffer` (cleared; the code of an
    /// earlier compile), grown to hold `capacity` bytes if it holds fewer:
    /// a warm buffer costs no allocation.
    #[inline]
    pub fn reusing(mut buffer: Vec<u8>, capacity: usize) -> Assembler<R> {
        crate::clear_with_room(&mut buffer, capacity);
        Assembler {
            ops: buffer,
            dynamic: SmallVec::new(),
            dynamic_relocs: SmallVec::new(),
            statics: Vec::new(),
            static_relocs: Vec::new(),
            error: None,
        }
    }

    /// A fresh, unbound dynamic label.
    #[inline]
    pub fn new_dynamic_label(&mut self) -> DynamicLabel {
        let id = label_id(self.dynamic.len());
        self.dynamic.push(UNBOUND);
        id
    }

    /// `n` fresh, unbound dynamic labels at once, their ids left in `ids`
    /// (in order): as `n` calls of [`Assembler::new_dynamic_label`].
    /// `ids` is what an earlier call left there (or empty): when it holds
    /// the ids already (a fresh assembler numbers its labels from 0 each
    /// time), they are kept, and no id is looked up.
    ///
    /// Why: a stub's labels are known before its code is emitted, and
    /// creating them one by one on first use costs a table of "created
    /// yet?" entries, its clearing, and a label-id look-up per label.
    /// (A stub without labels is answered inline: no call.)
    #[inline]
    pub fn new_dynamic_labels(&mut self, n: usize, ids: &mut SmallVec<[DynamicLabel; 8]>) {
        if n == 0 {
            ids.clear();
        } else {
            self.new_dynamic_labels_code(n, ids);
        }
    }

    /// [`Assembler::new_dynamic_labels`] of at least one label.
    #[inline(never)]
    fn new_dynamic_labels_code(&mut self, n: usize, ids: &mut SmallVec<[DynamicLabel; 8]>) {
        let first = self.dynamic.len();
        // The ids an earlier call left are consecutive.
        if ids.len() >= n && ids.first().is_none_or(|id| id.get_id() == first) {
            ids.truncate(n);
        } else {
            look_up_ids(first, n, ids);
        }
        // Pushed one by one: a stub has a few labels, and `SmallVec`'s
        // `resize` and `extend` cost several times more.
        for _ in 0..n {
            self.dynamic.push(UNBOUND);
        }
    }

    /// Record that the branch instruction just emitted (its displacement
    /// field left zero) goes to `label`: [`Assembler::finalize`] writes
    /// the field.
    #[inline]
    pub fn branch_to(&mut self, label: DynamicLabel, field: BranchField) {
        let at = self.ops.len() as u32;
        self.dynamic_relocs
            .push((label.get_id() as u32, Patch::Branch { at, field }));
    }

    /// The version of the latest definition of local label `name`.
    fn latest_version(&self, name: &'static str) -> Option<usize> {
        self.statics
            .iter()
            .rev()
            .find(|((n, v), _)| *n == name && *v != 0)
            .map(|&((_, v), _)| v)
    }

    fn patch_loc(
        &self,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) -> PatchLoc<R> {
        PatchLoc::new(self.offset(), target_offset, field_offset, ref_offset, kind)
    }

    /// Resolve every relocation and hand out the code, leaving the
    /// assembler empty (as `VecAssembler::finalize`, without moving the
    /// assembler).
    pub fn finalize(&mut self) -> Result<Vec<u8>, DynasmError> {
        let mut code = Vec::new();
        self.finalize_into(&mut code).map(|()| code)
    }

    /// [`Assembler::finalize`] into `code` (the buffer given to
    /// [`Assembler::reusing`] goes back there): on failure `code` gets
    /// the buffer emptied.
    pub fn finalize_into(&mut self, code: &mut Vec<u8>) -> Result<(), DynasmError> {
        let resolved = self.resolve();
        if resolved.is_err() {
            self.ops.clear();
        }
        *code = std::mem::take(&mut self.ops);
        resolved
    }

    /// The buffer, emptied, for the next compile (after an emission that
    /// failed before there was code to finalize).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.ops.clear();
        std::mem::take(&mut self.ops)
    }

    /// Patch every relocation into the code.
    fn resolve(&mut self) -> Result<(), DynasmError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.static_relocs.is_empty() {
            self.resolve_static()?;
        }
        // The tables as slices, taken once: no inline-or-heap test per
        // relocation.
        let dynamic = self.dynamic.as_slice();
        for (id, patch) in self.dynamic_relocs.as_slice() {
            let target = dynamic.get(*id as usize).copied().unwrap_or(UNBOUND);
            if target == UNBOUND {
                return Err(DynasmError::UnknownLabel(LabelKind::Dynamic(label_id(
                    *id as usize,
                ))));
            }
            let fits = match patch {
                Patch::Dynasm(loc) => {
                    let buf = &mut self.ops[loc.range(0)];
                    loc.patch(buf, 0, target as usize).is_ok()
                }
                Patch::Branch { at, field } => {
                    patch_branch(&mut self.ops, *at as usize, *field, target as usize)
                }
            };
            if !fits {
                return Err(DynasmError::ImpossibleRelocation(TargetKind::Dynamic(
                    label_id(*id as usize),
                )));
            }
        }
        self.static_relocs.clear();
        self.dynamic_relocs.clear();
        Ok(())
    }

    /// Patch the relocations to static labels (only a prologue's
    /// stack-probe loop makes any: out of line).
    #[cold]
    #[inline(never)]
    fn resolve_static(&mut self) -> Result<(), DynasmError> {
        for ((name, version), loc) in &self.static_relocs {
            let (label, kind) = if *version == 0 {
                (LabelKind::Global(name), TargetKind::Global(name))
            } else {
                (LabelKind::Local(name), TargetKind::Local(name))
            };
            let at = self
                .statics
                .iter()
                .find(|(l, _)| l == &(*name, *version))
                .map(|&(_, at)| at)
                .ok_or(DynasmError::UnknownLabel(label))?;
            let buf = &mut self.ops[loc.range(0)];
            if loc.patch(buf, 0, at as usize).is_err() {
                return Err(DynasmError::ImpossibleRelocation(kind));
            }
        }
        Ok(())
    }
}

impl<R: Relocation> Extend<u8> for Assembler<R> {
    #[inline]
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        self.ops.extend(iter)
    }
}

impl<'a, R: Relocation> Extend<&'a u8> for Assembler<R> {
    #[inline]
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        self.ops.extend(iter)
    }
}

/// `DynasmApi`'s fixed-width pushes, each one slice copy of the value's
/// little-endian bytes.
macro_rules! push_le_bytes {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(
            #[inline]
            fn $name(&mut self, value: $ty) {
                self.ops.extend_from_slice(&value.to_le_bytes());
            }
        )*
    };
}

impl<R: Relocation> DynasmApi for Assembler<R> {
    #[inline]
    fn offset(&self) -> AssemblyOffset {
        AssemblyOffset(self.ops.len())
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.ops.push(byte);
    }

    fn align(&mut self, alignment: usize, with: u8) {
        let offset = self.ops.len() % alignment;
        if offset != 0 {
            for _ in offset..alignment {
                self.ops.push(with);
            }
        }
    }

    // The multi-byte pushes as slice copies (the defaults go through
    // `Extend`).
    push_le_bytes! {
        push_i16: i16,
        push_i32: i32,
        push_i64: i64,
        push_u16: u16,
        push_u32: u32,
        push_u64: u64,
    }
}

impl<R: Relocation> DynasmLabelApi for Assembler<R> {
    type Relocation = R;

    fn local_label(&mut self, name: &'static str) {
        let version = self.latest_version(name).map_or(1, |v| v + 1);
        let at = self.ops.len() as u32;
        self.statics.push(((name, version), at));
    }

    fn global_label(&mut self, name: &'static str) {
        if self.statics.iter().any(|(l, _)| *l == (name, 0)) {
            self.error = Some(DynasmError::DuplicateLabel(LabelKind::Global(name)));
            return;
        }
        let at = self.ops.len() as u32;
        self.statics.push(((name, 0), at));
    }

    #[inline]
    fn dynamic_label(&mut self, id: DynamicLabel) {
        let at = self.ops.len() as u32;
        match self.dynamic.get(id.get_id()) {
            Some(&UNBOUND) => self.dynamic[id.get_id()] = at,
            Some(_) => self.error = Some(DynasmError::DuplicateLabel(LabelKind::Dynamic(id))),
            None => self.error = Some(DynasmError::UnknownLabel(LabelKind::Dynamic(id))),
        }
    }

    fn global_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.patch_loc(target_offset, field_offset, ref_offset, kind);
        self.static_relocs.push(((name, 0), loc));
    }

    #[inline]
    fn dynamic_relocation(
        &mut self,
        id: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = self.patch_loc(target_offset, field_offset, ref_offset, kind);
        self.dynamic_relocs
            .push((id.get_id() as u32, Patch::Dynasm(loc)));
    }

    fn forward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let version = self.latest_version(name).map_or(1, |v| v + 1);
        let loc = self.patch_loc(target_offset, field_offset, ref_offset, kind);
        self.static_relocs.push(((name, version), loc));
    }

    fn backward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let Some(version) = self.latest_version(name) else {
            self.error = Some(DynasmError::UnknownLabel(LabelKind::Local(name)));
            return;
        };
        let loc = self.patch_loc(target_offset, field_offset, ref_offset, kind);
        self.static_relocs.push(((name, version), loc));
    }

    fn value_relocation(&mut self, value: usize, field_offset: u8, ref_offset: u8, kind: R) {
        // As `VecAssembler`: patched at once, relative to buffer address 0.
        let loc = self.patch_loc(0, field_offset, ref_offset, kind);
        let buf = &mut self.ops[loc.range(0)];
        if loc.patch(buf, 0, value).is_err() {
            self.error = Some(DynasmError::ImpossibleRelocation(TargetKind::Value(value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasmrt::x64::X64Relocation;
    use dynasmrt::{VecAssembler, dynasm};

    /// Dynamic labels bound before and after their uses, local labels
    /// referenced backward and forward, a RIP-relative address.
    fn program<A: DynasmLabelApi<Relocation = X64Relocation>>(
        ops: &mut A,
        a: DynamicLabel,
        b: DynamicLabel,
    ) {
        dynasm!(ops
            ; .arch x64
            ; =>a
            ; jmp =>b
            ; back:
            ; jne <back
            ; jmp >fwd
            ; nop
            ; fwd:
            ; back:
            ; jz <back
            ; =>b
            ; lea rdi, [=>a]
            ; jmp =>a
            ; ret
        );
    }

    /// Labels created at once, by fresh assemblers or after other labels,
    /// with `ids` kept from call to call, are those made one by one.
    #[test]
    fn labels_at_once_are_labels_one_by_one() {
        let mut ids = SmallVec::new();
        for (before, n) in [(0, 3), (0, 1), (0, 5), (0, 0), (2, 2), (0, 2), (1, 9)] {
            let mut at_once = Assembler::<X64Relocation>::with_capacity(0);
            let mut one_by_one = Assembler::<X64Relocation>::with_capacity(0);
            for _ in 0..before {
                at_once.new_dynamic_label();
                one_by_one.new_dynamic_label();
            }
            at_once.new_dynamic_labels(n, &mut ids);
            let want: Vec<_> = (0..n).map(|_| one_by_one.new_dynamic_label()).collect();
            assert_eq!(ids.as_slice(), want.as_slice());
            assert_eq!(at_once.dynamic, one_by_one.dynamic);
            assert_eq!(at_once.new_dynamic_label(), one_by_one.new_dynamic_label());
        }
    }

    #[test]
    fn same_bytes_and_errors_as_vec_assembler() {
        let mut want = VecAssembler::<X64Relocation>::new(0);
        let (a, b) = (want.new_dynamic_label(), want.new_dynamic_label());
        program(&mut want, a, b);
        let mut got = Assembler::<X64Relocation>::with_capacity(0);
        let (a, b) = (got.new_dynamic_label(), got.new_dynamic_label());
        program(&mut got, a, b);
        assert_eq!(got.finalize().ok(), want.finalize().ok());

        // An unbound label and a label bound twice.
        let mut want = VecAssembler::<X64Relocation>::new(0);
        let mut got = Assembler::<X64Relocation>::with_capacity(0);
        let (w, g) = (want.new_dynamic_label(), got.new_dynamic_label());
        dynasm!(want ; .arch x64 ; jmp =>w);
        dynasm!(got ; .arch x64 ; jmp =>g);
        assert_eq!(
            format!("{:?}", got.finalize()),
            format!("{:?}", want.finalize())
        );
        let mut want = VecAssembler::<X64Relocation>::new(0);
        let mut got = Assembler::<X64Relocation>::with_capacity(0);
        let (w, g) = (want.new_dynamic_label(), got.new_dynamic_label());
        dynasm!(want ; .arch x64 ; =>w ; =>w);
        dynasm!(got ; .arch x64 ; =>g ; =>g);
        assert_eq!(
            format!("{:?}", got.finalize()),
            format!("{:?}", want.finalize())
        );
    }
}

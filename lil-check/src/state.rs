//! The frame context at a program point, and how contexts merge at joins.
//!
//! Types are stored in one byte ([`Ty`]) so that the per-instruction
//! contexts of a stub fit in one flat arena.

use crate::MAX_STD_PLACES;
use lil_syntax::{MAX_INDEX, Type};

/// A type or "undefined", in one byte. A type is its [`Type`]'s
/// discriminant and "undefined" is 8, the value an `Option<Type>` uses
/// for `None`: the conversions between the three, made several times
/// per instruction, cost nothing or a compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Ty(pub(crate) u8);

impl Ty {
    pub(crate) const UNDEF: Ty = Ty(8);
    /// The value of an expression that already had an error: reading it
    /// reports nothing more, so one mistake gives one error.
    pub(crate) const ERROR: Ty = Ty(255);

    pub(crate) fn is_error(self) -> bool {
        self == Ty::ERROR
    }

    /// The type of a checked value: `None` means its expression had an error.
    #[inline]
    pub(crate) fn checked(t: Option<Type>) -> Ty {
        t.map_or(Ty::ERROR, Ty::of)
    }

    #[inline]
    pub(crate) fn of(t: Type) -> Ty {
        Ty(t as u8)
    }

    /// The float types and the general-purpose types, as sets of
    /// [`Ty`] values (bit `Ty(n)` is `1 << n`).
    pub(crate) const FLOAT_SET: u32 = 1 << Type::F4 as u32 | 1 << Type::F8 as u32;
    pub(crate) const GENERAL_SET: u32 = 1 << Type::G1 as u32
        | 1 << Type::G2 as u32
        | 1 << Type::G4 as u32
        | 1 << Type::G8 as u32
        | 1 << Type::Ref as u32
        | 1 << Type::Pint as u32;

    #[inline]
    pub(crate) fn from_opt(t: Option<Type>) -> Ty {
        t.map_or(Ty::UNDEF, Ty::of)
    }

    #[inline]
    pub(crate) fn get(self) -> Option<Type> {
        Type::ALL.get(usize::from(self.0)).copied()
    }
}

/// How many locals' types a state and a context keep inline: stubs rarely
/// have more, and then a context copies them as one word and cloning a
/// state does not allocate.
pub(crate) const PACKED_LOCALS: usize = 8;

/// The standard places' types: never more than [`MAX_STD_PLACES`], so
/// always inline and `Copy`.
#[derive(Clone, Copy)]
pub(crate) struct StdTys {
    len: u8,
    tys: [Ty; MAX_STD_PLACES as usize],
}

impl StdTys {
    /// `n` places of type `t`; `n` is at most [`MAX_STD_PLACES`].
    pub(crate) fn filled(t: Ty, n: u32) -> StdTys {
        debug_assert!(n <= MAX_STD_PLACES);
        StdTys {
            len: n.min(MAX_STD_PLACES) as u8,
            tys: [t; MAX_STD_PLACES as usize],
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n as u8);
    }
}

impl std::ops::Deref for StdTys {
    type Target = [Ty];
    fn deref(&self) -> &[Ty] {
        &self.tys[..self.len as usize]
    }
}

impl std::ops::DerefMut for StdTys {
    fn deref_mut(&mut self) -> &mut [Ty] {
        &mut self.tys[..self.len as usize]
    }
}

impl PartialEq for StdTys {
    fn eq(&self, other: &StdTys) -> bool {
        **self == **other
    }
}

impl Eq for StdTys {}

impl std::fmt::Debug for StdTys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Whether and how an M2N frame is pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum M2nState {
    /// No frame.
    None,
    /// `push_m2n` without `handles`.
    Pushed,
    /// `push_m2n ..., handles`.
    PushedWithHandles,
}

impl M2nState {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            M2nState::None => "no M2N frame",
            M2nState::Pushed => "an M2N frame",
            M2nState::PushedWithHandles => "an M2N frame with handles",
        }
    }
}

/// A set of small integers: the first 64 inline, the rest on the heap.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Bits {
    inline: u64,
    more: Vec<u64>,
}

impl Bits {
    // Indices below 64 are all real stubs use: inline and branch-light;
    // the rest out of line.
    #[inline]
    pub(crate) fn insert(&mut self, i: u32) {
        if i < 64 {
            self.inline |= 1 << i;
        } else {
            self.insert_more(i);
        }
    }

    #[cold]
    fn insert_more(&mut self, i: u32) {
        insert_word_bit(&mut self.more, i);
    }

    #[inline]
    pub(crate) fn contains(&self, i: u32) -> bool {
        if i < 64 {
            self.inline & (1 << i) != 0
        } else {
            let w = (i / 64 - 1) as usize;
            self.more.get(w).is_some_and(|x| x & (1 << (i % 64)) != 0)
        }
    }

    /// Whether some element of `self` is not in `other`.
    #[inline]
    pub(crate) fn has_any_not_in(&self, other: &Bits) -> bool {
        self.inline & !other.inline != 0 || (!self.more.is_empty() && self.more_not_in(other))
    }

    /// [`Bits::has_any_not_in`] of the elements beyond the first 64.
    #[cold]
    fn more_not_in(&self, other: &Bits) -> bool {
        self.more
            .iter()
            .enumerate()
            .any(|(i, w)| w & !other.more.get(i).copied().unwrap_or(0) != 0)
    }
}

/// Sets bit `i` (at least 64) of a set's words beyond the first.
fn insert_word_bit(more: &mut Vec<u64>, i: u32) {
    let w = (i / 64 - 1) as usize;
    if more.len() <= w {
        more.resize(w + 1, 0);
    }
    more[w] |= 1 << (i % 64);
}

bitflags::bitflags! {
    /// What may have overwritten the argument registers since entry, as
    /// seen by a read of an input. Backends decide which of these clobber
    /// on their target (a TLS-slot `ts` does not; a `ts` call does).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Clobbers: u8 {
        /// A `call` (any kind that returns).
        const CALL = 1;
        /// `v = ts`.
        const TS = 2;
        /// `in2out` or a write to an output.
        const OUTPUT = 4;
        /// `push_m2n` (a call only where `ts` is a call).
        const PUSH_M2N = 8;
        /// `print`.
        const PRINT = 16;
        /// `pop_m2n` (a call where the host has `pop_m2n` hooks).
        const POP_M2N = 32;
    }
}

/// What the context before an instruction records of the frame state:
/// `Copy` and small, so recording a context is one copy. The types of
/// locals beyond the first [`PACKED_LOCALS`] live in the [`State`] (and
/// in the checker's arena for the contexts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Index into the checker's signature table, or [`NO_OUT`].
    pub(crate) out: u32,
    pub(crate) alloc: u32,
    /// The types of the first [`PACKED_LOCALS`] locals; the slots at and
    /// beyond `locals_len` are undefined (so whole arrays compare).
    pub(crate) locals: [Ty; PACKED_LOCALS],
    /// At most [`lil_syntax::MAX_INDEX`] (larger counts are refused
    /// before the dataflow).
    pub(crate) locals_len: u16,
    pub(crate) std: StdTys,
    pub(crate) m2n: M2nState,
    pub(crate) ret: Ty,
}

/// No output area.
pub(crate) const NO_OUT: u32 = u32::MAX;

impl Frame {
    /// What an instruction no path reaches records.
    pub(crate) const UNREACHED: Frame = Frame {
        out: NO_OUT,
        alloc: 0,
        locals: [Ty::UNDEF; PACKED_LOCALS],
        locals_len: 0,
        std: StdTys {
            len: 0,
            tys: [Ty::UNDEF; MAX_STD_PLACES as usize],
        },
        m2n: M2nState::None,
        ret: Ty::UNDEF,
    };

    /// The output area's signature index.
    #[inline]
    pub(crate) fn out(&self) -> Option<u32> {
        (self.out != NO_OUT).then_some(self.out)
    }
}

/// The mutable frame state the dataflow pushes through the stub.
#[derive(Clone, Debug)]
pub(crate) struct State {
    /// What a context records.
    pub(crate) frame: Frame,
    /// The outputs set, of the first 64 (the others are in `more`).
    outputs_set: u64,
    /// What only a large frame has, boxed: copying a small state (to
    /// park it at a label) and dropping one test one pointer, not two
    /// vectors.
    more: Option<Box<Overflow>>,
    pub(crate) clobbered: Clobbers,
}

/// The parts of a [`State`] beyond what fits inline.
#[derive(Clone, Debug, Default)]
struct Overflow {
    /// The types of the locals beyond the first [`PACKED_LOCALS`]: as
    /// many as there are (none if there are no more).
    locals: Vec<Ty>,
    /// The outputs set, from output 64 on, 64 to a word.
    outputs_set: Vec<u64>,
}

/// A part of the state on which paths disagreed in a way that is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Conflict {
    M2n,
    LocalCount,
    LocalType(u32),
    Out,
    Alloc,
}

impl State {
    pub(crate) fn entry(std_places: u32) -> State {
        State {
            frame: Frame {
                std: StdTys::filled(Ty::of(Type::Pint), std_places),
                ..Frame::UNREACHED
            },
            outputs_set: 0,
            more: None,
            clobbered: Clobbers::empty(),
        }
    }

    fn more_mut(&mut self) -> &mut Overflow {
        self.more.get_or_insert_with(Box::default)
    }

    /// `n` locals, all undefined; `n` is at most [`lil_syntax::MAX_INDEX`].
    pub(crate) fn set_locals(&mut self, n: u32) {
        let n = n.min(MAX_INDEX);
        self.frame.locals = [Ty::UNDEF; PACKED_LOCALS];
        self.frame.locals_len = n as u16;
        if n as usize > PACKED_LOCALS || self.more.is_some() {
            self.set_more_locals(n as usize);
        }
    }

    /// The locals beyond the first [`PACKED_LOCALS`] of `n`, all undefined.
    #[cold]
    fn set_more_locals(&mut self, n: usize) {
        let more = n.saturating_sub(PACKED_LOCALS);
        let locals = &mut self.more_mut().locals;
        locals.clear();
        locals.resize(more, Ty::UNDEF);
    }

    /// Whether some local may hold a value: none does when the inline
    /// types are all undefined (those beyond the count always are) and
    /// there are no more.
    #[inline]
    pub(crate) fn may_hold_locals(&self) -> bool {
        self.frame.locals != [Ty::UNDEF; PACKED_LOCALS] || self.more.is_some()
    }

    #[inline]
    pub(crate) fn locals_len(&self) -> usize {
        self.frame.locals_len as usize
    }

    /// The type of `lK`, `None` if there is no `lK`.
    #[inline]
    pub(crate) fn local(&self, k: u32) -> Option<Ty> {
        if k >= u32::from(self.frame.locals_len) {
            return None;
        }
        let k = k as usize;
        match self.frame.locals.get(k) {
            Some(t) => Some(*t),
            None => self.more_local(k),
        }
    }

    #[cold]
    fn more_local(&self, k: usize) -> Option<Ty> {
        self.more.as_ref()?.locals.get(k - PACKED_LOCALS).copied()
    }

    #[inline]
    pub(crate) fn local_mut(&mut self, k: u32) -> Option<&mut Ty> {
        if k >= u32::from(self.frame.locals_len) {
            return None;
        }
        let k = k as usize;
        if k < PACKED_LOCALS {
            self.frame.locals.get_mut(k)
        } else {
            self.more_local_mut(k)
        }
    }

    #[cold]
    fn more_local_mut(&mut self, k: usize) -> Option<&mut Ty> {
        self.more.as_mut()?.locals.get_mut(k - PACKED_LOCALS)
    }

    /// The types as two slices, the inline ones and the rest: loops over
    /// them run without the test a chained iterator makes at every step.
    pub(crate) fn locals_parts(&self) -> (&[Ty], &[Ty]) {
        let inline = self.locals_len().min(PACKED_LOCALS);
        let more = self.more.as_ref().map_or(&[][..], |m| &m.locals);
        (&self.frame.locals[..inline], more)
    }

    fn locals_parts_mut(&mut self) -> (&mut [Ty], &mut [Ty]) {
        let inline = self.locals_len().min(PACKED_LOCALS);
        let more = self.more.as_mut().map_or(&mut [][..], |m| &mut m.locals);
        (&mut self.frame.locals[..inline], more)
    }

    /// Whether output `k` is set.
    #[inline]
    pub(crate) fn output_set(&self, k: u32) -> bool {
        if k < 64 {
            self.outputs_set & (1 << k) != 0
        } else {
            let w = (k / 64 - 1) as usize;
            self.more
                .as_ref()
                .and_then(|m| m.outputs_set.get(w))
                .is_some_and(|x| x & (1 << (k % 64)) != 0)
        }
    }

    /// Whether outputs `0..n` are all set: for the first 64, one test.
    #[inline]
    pub(crate) fn outputs_set_below(&self, n: u32) -> bool {
        if n < 64 {
            let mask = (1u64 << n) - 1;
            self.outputs_set & mask == mask
        } else {
            self.outputs_set_below_more(n)
        }
    }

    #[cold]
    fn outputs_set_below_more(&self, n: u32) -> bool {
        (0..n).all(|k| self.output_set(k))
    }

    /// Notes that output `k` is set.
    #[inline]
    pub(crate) fn set_output(&mut self, k: u32) {
        if k < 64 {
            self.outputs_set |= 1 << k;
        } else {
            self.set_output_more(k);
        }
    }

    #[cold]
    fn set_output_more(&mut self, k: u32) {
        insert_word_bit(&mut self.more_mut().outputs_set, k);
    }

    /// No output is set.
    #[inline]
    pub(crate) fn clear_outputs(&mut self) {
        self.outputs_set = 0;
        if self.more.is_some() {
            self.clear_more_outputs();
        }
    }

    #[cold]
    fn clear_more_outputs(&mut self) {
        if let Some(m) = &mut self.more {
            m.outputs_set.clear();
        }
    }

    /// Outputs `0..n` are set (`in2out`), no other.
    pub(crate) fn set_outputs(&mut self, n: u32) {
        self.clear_outputs();
        if n <= 64 {
            self.outputs_set = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            return;
        }
        self.outputs_set = u64::MAX;
        for k in 64..n {
            self.set_output_more(k);
        }
    }

    /// Keeps set only the outputs `other` sets too; returns whether
    /// that unset some.
    fn intersect_outputs(&mut self, other: &State) -> bool {
        let before = self.outputs_set;
        self.outputs_set &= other.outputs_set;
        let mut changed = before != self.outputs_set;
        if let Some(m) = &mut self.more {
            let theirs = other.more.as_ref().map_or(&[][..], |o| &o.outputs_set);
            for (i, w) in m.outputs_set.iter_mut().enumerate() {
                let o = theirs.get(i).copied().unwrap_or(0);
                if *w & !o != 0 {
                    changed = true;
                }
                *w &= o;
            }
        }
        changed
    }

    pub(crate) fn locals_iter(&self) -> impl Iterator<Item = &Ty> {
        let (first, more) = self.locals_parts();
        first.iter().chain(more)
    }

    /// Merge `other` (arriving on a new edge) into `self` (what the join
    /// already had). Components that must agree and do not are returned as
    /// conflicts and left as they were; the others weaken. Returns whether
    /// `self` changed.
    pub(crate) fn merge(&mut self, other: &State, conflicts: &mut Vec<Conflict>) -> bool {
        let mut changed = false;
        // Standard places: the common prefix with equal types.
        let common = self
            .frame
            .std
            .iter()
            .zip(other.frame.std.iter())
            .take_while(|(a, b)| a == b)
            .count();
        if common < self.frame.std.len() {
            self.frame.std.truncate(common);
            changed = true;
        }
        let (mine, theirs) = (&mut self.frame, &other.frame);
        if mine.m2n != theirs.m2n {
            conflicts.push(Conflict::M2n);
        }
        if mine.locals_len != theirs.locals_len {
            conflicts.push(Conflict::LocalCount);
        } else {
            // Paths mostly agree on the small frame's locals: one test
            // (the slots beyond the count are undefined in both).
            let same_first = mine.locals == theirs.locals;
            let (first, more) = other.locals_parts();
            let (mine_first, mine_more) = self.locals_parts_mut();
            if !same_first {
                changed |= merge_locals(mine_first, first, 0, conflicts);
            }
            changed |= merge_locals(mine_more, more, PACKED_LOCALS, conflicts);
        }
        let (mine, theirs) = (&mut self.frame, &other.frame);
        if mine.out != theirs.out {
            conflicts.push(Conflict::Out);
        } else if self.intersect_outputs(other) {
            changed = true;
        }
        let (mine, theirs) = (&mut self.frame, &other.frame);
        if mine.ret.is_error() && !theirs.ret.is_error() {
            mine.ret = theirs.ret;
            changed = true;
        } else if mine.ret != theirs.ret && mine.ret != Ty::UNDEF && !theirs.ret.is_error() {
            mine.ret = Ty::UNDEF;
            changed = true;
        }
        if mine.alloc != theirs.alloc {
            conflicts.push(Conflict::Alloc);
        }
        let clobbered = self.clobbered | other.clobbered;
        if clobbered != self.clobbered {
            self.clobbered = clobbered;
            changed = true;
        }
        changed
    }
}

/// Merge the types of locals `from..` (`b`, from a new edge) into those
/// the join had (`a`); returns whether `a` changed.
fn merge_locals(a: &mut [Ty], b: &[Ty], from: usize, conflicts: &mut Vec<Conflict>) -> bool {
    let mut changed = false;
    for (k, (a, b)) in a.iter_mut().zip(b).enumerate() {
        // A value whose expression had an error takes the type the
        // other path gives it: its error is reported where it was
        // made, and an error made inside a loop must not flow
        // around the back edge and hide itself from the pass that
        // reports it.
        if a == b || b.is_error() {
            continue;
        }
        if a.is_error() {
            *a = *b;
            changed = true;
            continue;
        }
        if *a == Ty::UNDEF {
            continue;
        }
        if *b == Ty::UNDEF {
            *a = Ty::UNDEF;
            changed = true;
        } else {
            conflicts.push(Conflict::LocalType((from + k) as u32));
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parking a state at a label copies it: what only large frames
    /// have stays behind one pointer.
    #[test]
    fn a_state_is_small() {
        assert!(size_of::<State>() <= 48, "{}", size_of::<State>());
    }

    /// A type is its discriminant, and `Ty::get` undoes `Ty::of`.
    #[test]
    fn ty_round_trips() {
        for (i, t) in Type::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(Ty::of(t).0), i, "{t}");
            assert_eq!(Ty::of(t).get(), Some(t));
            assert_eq!(Ty::from_opt(Some(t)), Ty::of(t));
        }
        assert_eq!(Ty::from_opt(None), Ty::UNDEF);
        assert_eq!(Ty::UNDEF.get(), None);
        assert_eq!(Ty::ERROR.get(), None);
    }

    #[test]
    fn type_sets_match_is_float() {
        for t in Type::ALL {
            let bit = 1u32 << Ty::of(t).0;
            assert_eq!(Ty::FLOAT_SET & bit != 0, t.is_float(), "{t}");
            assert_eq!(Ty::GENERAL_SET & bit != 0, !t.is_float(), "{t}");
        }
    }
}

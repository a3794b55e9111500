//! A scannerless recursive-descent parser over bytes.
//!
//! One pass, no backtracking beyond a few bytes of lookahead, no
//! allocation per token: parsing time is linear in the input. On an error
//! the parser records it, skips past the next `;` and goes on, so one run
//! reports every broken statement (up to [`MAX_ERRORS`]).
//!
//! Speed comes from reading the common shapes directly: keywords are
//! compared as one `u64` loaded from the text, and a variable with a
//! literal index, a one-digit `%Ni` or a short decimal is read in one pass
//! by a fast path in front of the general reader, which is kept, with all
//! its errors, for everything else (so the fast paths only ever accept what
//! the general readers would, with the same spans). Words and label names
//! are scanned eight bytes at a time ([`class_run_end`]), blanks by a loop
//! over a local cursor ([`blank_end`]); a statement is dispatched on its
//! word's key before any variable reader runs. Errors are built out of
//! line, and each statement is built where it is pushed ([`push_in_place`]).
//!
//! Size counts as well as instructions: a stub generator runs the parser,
//! the checker and a backend one after the other, and their code together
//! is more than the CPU's micro-op cache holds, so code that is fetched
//! and decoded again costs more than a few instructions. The readers of
//! the pieces every statement is made of (variables, operands, integers,
//! addresses, labels) are therefore one shared copy each, out of line,
//! rather than a copy inlined into each statement: about 6% more
//! instructions for Figure 1, but 23% fewer hot cache lines and about 10%
//! fewer cycles.
//!
//! The parser's equivalence tool is `tests/examples/parse_digest.rs`: a
//! speed change must leave its output unchanged.
//!
//! Invariant: every span handed out is shifted by `base`, the offset of this
//! fragment in the text of the stub being built.

use crate::ast::*;
use crate::directive::{DirectiveArgs, IntUse, SignatureKind};
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::span::Span;
use std::hash::{BuildHasher, RandomState};

/// Parsing stops after this many errors.
pub const MAX_ERRORS: usize = 50;

/// Errors are boxed so the common, successful path moves small values.
type PResult<T> = Result<T, Box<SyntaxError>>;

/// Label names of a stub being built, shared by all its fragments, in
/// the vector of names the stub (or its builder) keeps.
///
/// A label's id is its position in `names`. A few names are searched in
/// order; beyond [`LINEAR_LABELS`], a [`LabelIndex`] finds them.
///
/// The names interned so far are `names[..len]`. Those after `len` are an
/// earlier stub's names, kept for their allocations
/// ([`LabelTable::reusing`]): the `k`-th new name takes over the `k`-th old
/// one, so parsing a text again costs no allocation for its labels.
///
/// The vector is borrowed rather than moved in and out: moving it, with
/// the checks for what the moved-over vector held, cost about 30
/// instructions a parse.
pub(crate) struct LabelTable<'n> {
    names: &'n mut Vec<Box<str>>,
    len: usize,
    /// `None` while the names are few, and after a truncation until the
    /// next new name.
    index: Option<LabelIndex>,
}

/// Beyond this many labels a hash table replaces the linear search.
const LINEAR_LABELS: usize = 16;

/// The ids of a [`LabelTable`]'s names by hash: open addressing with
/// linear probing, at most half full. It holds ids only, so a new name
/// is not copied a second time (a `HashMap<Box<str>, u32>` allocated a key
/// per label and cost several hundred instructions per insert); the hash
/// is keyed at random ([`RandomState`]) so that crafted names cannot make
/// lookups quadratic.
#[derive(Debug, Clone)]
pub(crate) struct LabelIndex {
    hasher: RandomState,
    /// [`EMPTY_SLOT`] or an id; the length is a power of two.
    slots: Box<[u32]>,
}

const EMPTY_SLOT: u32 = u32::MAX;

impl LabelIndex {
    /// An index of all of `names`, at most a quarter full.
    fn new(names: &[Box<str>]) -> LabelIndex {
        let mut index = LabelIndex {
            hasher: RandomState::new(),
            slots: vec![EMPTY_SLOT; (4 * names.len()).next_power_of_two()].into(),
        };
        for (id, name) in names.iter().enumerate() {
            if let Err(slot) = index.find(names, name) {
                index.slots[slot] = id as u32;
            }
        }
        index
    }

    /// The id of `name`, or the empty slot where it goes. (A slot is
    /// always empty: the table is at most half full.)
    fn find(&self, names: &[Box<str>], name: &str) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.hasher.hash_one(name) as usize & mask;
        loop {
            match self.slots[slot] {
                EMPTY_SLOT => return Err(slot),
                id if names.get(id as usize).is_some_and(|n| **n == *name) => return Ok(id),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

impl<'n> LabelTable<'n> {
    /// A table with no names that reuses the allocations of the names in
    /// `names`: the vector's, and each name's for the new name of the same
    /// id where the lengths agree.
    pub(crate) fn reusing(names: &'n mut Vec<Box<str>>) -> LabelTable<'n> {
        LabelTable {
            names,
            len: 0,
            index: None,
        }
    }

    /// A table holding all of `names`, found by `index` if it is the one
    /// [`Self::finish`] gave for them.
    pub(crate) fn resume(
        names: &'n mut Vec<Box<str>>,
        index: Option<LabelIndex>,
    ) -> LabelTable<'n> {
        LabelTable {
            len: names.len(),
            names,
            index,
        }
    }

    /// Leave the vector holding the names interned, by id (the spare old
    /// names dropped), and give back their index, if any.
    pub(crate) fn finish(self) -> Option<LabelIndex> {
        self.names.truncate(self.len);
        self.index
    }

    /// The id of the label `name`, a new one if it is new. `name` is the
    /// name's bytes; `text` gives it as a `str`, asked for only when the
    /// name is stored or hashed (beyond [`LINEAR_LABELS`]): taking the
    /// text out of the source checks both ends for a character boundary,
    /// about 15 instructions a label.
    ///
    /// Inlined, with the lookups that end most calls: a name seen before
    /// in this stub, or a new one like the old name at its id (parsing the
    /// same text again). Storing a name ([`Self::add`]) is out of line, so
    /// that the lookups no longer save and restore the registers it needs.
    #[inline(always)]
    pub(crate) fn intern<'t>(&mut self, name: &[u8], text: impl FnOnce() -> &'t str) -> LabelId {
        if self.index.is_some() {
            return self.intern_hashed(text());
        }
        let names = &self.names[..self.len];
        if let Some(p) = names.iter().position(|n| same_name(n.as_bytes(), name)) {
            return LabelId(p as u32);
        }
        if self.len < LINEAR_LABELS
            && self
                .names
                .get(self.len)
                .is_some_and(|old| same_name(old.as_bytes(), name))
        {
            self.len += 1;
            return LabelId(self.len as u32 - 1);
        }
        self.add(text(), None)
    }

    /// [`Self::intern`] where the names are many enough to be found by
    /// the index. Out of line: with the hash inlined, every label's lookup
    /// saved the registers it needs.
    #[inline(never)]
    fn intern_hashed(&mut self, text: &str) -> LabelId {
        let names = &self.names[..self.len];
        let Some(index) = &self.index else {
            return self.add(text, None);
        };
        // Hashed as text, as the index's names are.
        match index.find(names, text) {
            Ok(id) => LabelId(id),
            Err(slot) => self.add(text, Some(slot)),
        }
    }

    /// Store the new name `name` under the next id; `slot` is its slot in
    /// the index, if there is one.
    #[inline(never)]
    fn add(&mut self, name: &str, slot: Option<usize>) -> LabelId {
        let id = self.len as u32;
        match self.names.get_mut(self.len) {
            Some(old) => reuse_name(old, name),
            None => {
                if self.names.capacity() == 0 {
                    // Allocating outright is cheaper than `push` growing from empty.
                    *self.names = Vec::with_capacity(4);
                }
                self.names.push(name.into());
            }
        }
        self.len += 1;
        match (&mut self.index, slot) {
            (Some(index), Some(slot)) if 2 * self.len <= index.slots.len() => {
                index.slots[slot] = id;
            }
            _ if self.len > LINEAR_LABELS => {
                self.index = Some(LabelIndex::new(&self.names[..self.len]));
            }
            _ => {}
        }
        LabelId(id)
    }
}

/// Whether two label names are the same: for names of up to 16 bytes, by
/// two overlapping loads of the widest word that fits, rather than a
/// `memcmp` call (about 20 instructions a comparison, one or more per
/// label).
#[inline(always)]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        4..8 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        2..4 => {
            a.first_chunk::<2>() == b.first_chunk::<2>()
                && a.last_chunk::<2>() == b.last_chunk::<2>()
        }
        _ => a == b,
    }
}

/// Make `old` hold `name`, in its own allocation where the lengths agree
/// (a `String` whose capacity is its length takes as many bytes again
/// without growing, and gives them back as a `Box<str>` without shrinking).
fn reuse_name(old: &mut Box<str>, name: &str) {
    if same_name(old.as_bytes(), name.as_bytes()) {
        return;
    }
    if old.len() != name.len() {
        *old = name.into();
        return;
    }
    let mut text = std::mem::take(old).into_string();
    text.clear();
    text.push_str(name);
    *old = text.into_boxed_str();
}

/// How many parameter vectors of an old stub [`SpareParams`] keeps: the
/// entry's and one call's, which is all the signatures with parameters
/// nearly every stub has (Figure 3 and the monitor enter have two, the
/// others fewer). Each slot costs every parse about six instructions to
/// set up and drop (four slots cost 12 more a parse than two); a stub with
/// more such signatures allocates a vector for each one past the second.
const SPARE_PARAMS: usize = 2;

/// The parameter vectors of an earlier stub's signatures, emptied, for the
/// signatures of the next stub parsed into it (see
/// [`crate::parse_with_into`]), taken in the order they were put: put in
/// the old stub's in order, each new signature gets the vector of the old
/// one at its place. Without spares a signature gets a new vector.
#[derive(Default)]
pub(crate) struct SpareParams {
    vecs: [Vec<Type>; SPARE_PARAMS],
    /// `vecs[taken..put]` hold spares.
    put: usize,
    taken: usize,
}

impl SpareParams {
    /// Keep `params`' allocation, if it has one and there is room.
    pub(crate) fn put(&mut self, mut params: Vec<Type>) {
        if params.capacity() != 0 && self.put < SPARE_PARAMS {
            params.clear();
            self.vecs[self.put] = params;
            self.put += 1;
        }
    }

    /// An empty vector: the next spare, or a new one.
    fn take(&mut self) -> Vec<Type> {
        if self.taken < self.put {
            self.taken += 1;
            std::mem::take(&mut self.vecs[self.taken - 1])
        } else {
            SpareParams::new_params()
        }
    }

    /// A new vector with room for a usual signature: one allocation, no
    /// regrowth.
    fn new_params() -> Vec<Type> {
        Vec::with_capacity(8)
    }
}

/// An upper bound on the statements of a text (for sizing the body).
///
/// Counted 32 bytes at a time into 32 byte-sized lanes, which LLVM turns
/// into two vector compares and subtracts per round (a plain
/// `filter().count()` stays scalar, at about two instructions a byte; 16
/// lanes cost a third more per byte, 64 leave a scalar tail too long for
/// a stub); the lanes are added up every 255 rounds, before they can
/// overflow.
pub(crate) fn statement_estimate(text: &str) -> usize {
    const LANES: usize = 32;
    let mut chunks = text.as_bytes().chunks_exact(LANES);
    let mut total = 0;
    loop {
        let mut lanes = [0u8; LANES];
        let mut rounds = 0;
        for chunk in chunks.by_ref().take(255) {
            rounds += 1;
            for (lane, &b) in lanes.iter_mut().zip(chunk) {
                *lane += u8::from(b == b';');
            }
        }
        total += lanes.iter().map(|&n| usize::from(n)).sum::<usize>();
        if rounds < 255 {
            break;
        }
    }
    total + chunks.remainder().iter().filter(|&&b| b == b';').count()
}

/// The value of the decimal digits from `start`, at most `max` of them
/// (`max` ≤ 19, so the value fits), and where they end: the shared core of
/// the one-pass readers of short literals and variable indices, which then
/// decide whether what follows ends the token.
#[inline(always)]
fn short_digits(bytes: &[u8], start: usize, max: usize) -> (u64, usize) {
    let mut end = start;
    let mut value = 0u64;
    while end - start < max
        && let Some(&d) = bytes.get(end)
        && d.is_ascii_digit()
    {
        value = value * 10 + u64::from(d - b'0');
        end += 1;
    }
    (value, end)
}

/// Where the blanks and `//` comments from `pos` end.
///
/// Spaces are skipped by a loop that tests one class per byte; a `/` is
/// looked at only where they stop (comments are rare, blanks are between
/// nearly every two tokens).
#[inline(always)]
fn blank_end(bytes: &[u8], mut pos: usize) -> usize {
    loop {
        while bytes
            .get(pos)
            .is_some_and(|&b| CLASS[b as usize] & SPACE != 0)
        {
            pos += 1;
        }
        if bytes.get(pos) != Some(&b'/') {
            return pos;
        }
        match comment_end(bytes, pos) {
            Some(end) => pos = end,
            None => return pos,
        }
    }
}

/// The end of the `//` comment at `pos` (past its newline); `None` if
/// there is none (a `/` alone).
#[cold]
fn comment_end(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos + 1) != Some(&b'/') {
        return None;
    }
    Some(match bytes[pos..].iter().position(|&c| c == b'\n') {
        Some(p) => pos + p + 1,
        None => bytes.len(),
    })
}

/// Push the instruction `make` builds onto `out`, building it in place.
///
/// `Vec::push` takes a value already built: a 192-byte `Instruction`
/// assembled on the stack and then copied with a `memcpy` call, because
/// growing the vector might unwind and the value must stay whole to be
/// dropped. Here the room is made first and the instruction built after,
/// with nothing in between that can unwind, so LLVM stores each field
/// straight into the vector: about 60 instructions less per statement.
#[inline(always)]
fn push_in_place(out: &mut Vec<Instruction>, make: impl FnOnce() -> Instruction) {
    out.reserve(1);
    let len = out.len();
    out.spare_capacity_mut()[0].write(make());
    // SAFETY: the element at `len` was initialised just above. (Had `make`
    // panicked, the vector would be left as it was.)
    unsafe { out.set_len(len + 1) };
}

/// What the place an address is read into holds before it is read: never
/// looked at (a statement uses the place only once an address has been
/// read into all of it), so it is the value whose bytes are all zero
/// (every field's first variant, `Some` places of `i0`), which sets the
/// place up with one zeroed register rather than four loads of a constant.
const UNREAD_ADDRESS: Address = {
    const I0: Place = Place {
        var: Var::Input(0),
        span: Span::DUMMY,
    };
    Address {
        base: Some(I0),
        index: Some((I0, 0)),
        offset: 0,
        ty: Type::G1,
        ordering: Ordering::Plain,
        span: Span::DUMMY,
    }
};

/// Name of the `n`-th generated label (`%g`), as DRLVM spelled them: `$`
/// and `n` in hex. Written into `buf` rather than `format!`ted, so looking
/// the label up allocates nothing.
fn generated_label_name(n: u32, buf: &mut [u8; 9]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (32 - (n | 1).leading_zeros()).div_ceil(4) as usize;
    buf[0] = b'$';
    for (i, slot) in buf[1..=digits].iter_mut().enumerate() {
        *slot = HEX[((n >> (4 * (digits - 1 - i))) & 0xf) as usize];
    }
    // Always ASCII.
    std::str::from_utf8(&buf[..=digits]).unwrap_or("$")
}

/// Generic over the source of directive values so that `parse_with`, the
/// hot entry, gets an instance with [`crate::ArgList`]'s lookups inlined;
/// the other entries share one instance over `dyn DirectiveArgs`.
///
/// `SHIFTED` says whether spans are shifted by `base`: only the fragments
/// of a [`crate::StubBuilder`] are. A whole text is parsed with `SHIFTED`
/// false, and its spans then cost no load and additions: about 65
/// instructions less per parse of Figure 1, 145 of Figure 3.
pub(crate) struct Parser<'s, 'd, A: DirectiveArgs + ?Sized, const SHIFTED: bool> {
    bytes: &'s [u8],
    src: &'s str,
    pos: usize,
    /// Zero unless `SHIFTED`.
    base: u32,
    args: &'d mut A,
    pub(crate) labels: LabelTable<'d>,
    label_counter: &'d mut u32,
    /// Where signatures get their parameter vectors, if not new ones.
    /// Borrowed: moving the vectors in and dropping them with the parser
    /// cost more than the parse of a small stub gains.
    pub(crate) spare_params: Option<&'d mut SpareParams>,
    pub(crate) errors: Vec<SyntaxError>,
}

/// Byte classes, so that scanning a word costs one table lookup per byte.
const IDENT_START: u8 = 1;
const IDENT: u8 = 2;
const LABEL: u8 = 4;
/// ` `, tab, newline, carriage return.
const SPACE: u8 = 8;
/// `/`, which may start a comment.
const SLASH: u8 = 16;

static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let start = c.is_ascii_alphabetic() || c == b'_';
        let ident = start || c.is_ascii_digit();
        class[b] = (start as u8 * IDENT_START) | (ident as u8 * (IDENT | LABEL));
        b += 1;
    }
    class[b'$' as usize] = LABEL;
    class[b' ' as usize] = SPACE;
    class[b'\t' as usize] = SPACE;
    class[b'\n' as usize] = SPACE;
    class[b'\r' as usize] = SPACE;
    class[b'/' as usize] = SLASH;
    class
};

#[inline]
fn is_ident_start(b: u8) -> bool {
    CLASS[b as usize] & IDENT_START != 0
}

#[inline]
fn is_ident_char(b: u8) -> bool {
    CLASS[b as usize] & IDENT != 0
}

/// The end of the run of bytes of `class` (a set of [`CLASS`] bits) from
/// `pos`: where a word or a label name ends.
///
/// Eight bytes at a time while eight remain: each byte's test is then a
/// table lookup and a branch, without the bounds check and cursor update
/// of a byte-at-a-time loop (about half the instructions per byte of a
/// keyword like `managed` or a label like `slowpath`).
#[inline(always)]
fn class_run_end(bytes: &[u8], mut pos: usize, class: u8) -> usize {
    while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
        for (i, &b) in chunk.iter().enumerate() {
            if CLASS[b as usize] & class == 0 {
                return pos + i;
            }
        }
        pos += 8;
    }
    while bytes
        .get(pos)
        .is_some_and(|&b| CLASS[b as usize] & class != 0)
    {
        pos += 1;
    }
    pos
}

/// A word of up to 8 bytes as an integer, so that matching keywords is
/// comparing integers; longer words (and the empty word) are 0.
const fn key(word: &[u8]) -> u64 {
    if word.len() > 8 {
        return 0;
    }
    let mut k = 0u64;
    let mut i = word.len();
    while i > 0 {
        i -= 1;
        k = (k << 8) | word[i] as u64;
    }
    k
}

/// The keywords, as [`key`]s (those longer than 8 bytes are matched as bytes).
mod kw {
    use super::key;
    pub(super) const ENTRY: u64 = key(b"entry");
    pub(super) const LOCALS: u64 = key(b"locals");
    pub(super) const ALLOC: u64 = key(b"alloc");
    pub(super) const LD: u64 = key(b"ld");
    pub(super) const ST: u64 = key(b"st");
    pub(super) const INC: u64 = key(b"inc");
    pub(super) const CAS: u64 = key(b"cas");
    pub(super) const J: u64 = key(b"j");
    pub(super) const JC: u64 = key(b"jc");
    pub(super) const OUT: u64 = key(b"out");
    pub(super) const IN2OUT: u64 = key(b"in2out");
    pub(super) const CALL: u64 = key(b"call");
    pub(super) const TAILCALL: u64 = key(b"tailcall");
    pub(super) const RET: u64 = key(b"ret");
    pub(super) const PUSH_M2N: u64 = key(b"push_m2n");
    pub(super) const POP_M2N: u64 = key(b"pop_m2n");
    pub(super) const HANDLES: u64 = key(b"handles");
    pub(super) const PRINT: u64 = key(b"print");
    pub(super) const TS: u64 = key(b"ts");
    pub(super) const SX: u64 = key(b"sx");
    pub(super) const ZX: u64 = key(b"zx");
    pub(super) const ACQUIRE: u64 = key(b"acquire");
    pub(super) const RELEASE: u64 = key(b"release");
    pub(super) const VOID: u64 = key(b"void");
}

/// The length of the word a nonzero [`key`] was made of.
const fn key_len(key: u64) -> usize {
    8 - key.leading_zeros() as usize / 8
}

/// What a statement's first word makes it, as
/// [`Parser::statement_head`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// `:`, before a label's name.
    Label,
    Entry,
    Locals,
    Alloc,
    Ld,
    St,
    Inc,
    Cas,
    J,
    Jc,
    Out,
    In2Out,
    Call,
    TailCall,
    Ret,
    PushM2n,
    PopM2n,
    Handles,
    Print,
    /// Any other word (a variable, `std_places`, `m2n_save_all`) or none.
    Other,
}

/// The `remaining` (fewer than eight) last bytes of a text, zero after
/// them, as [`padded_chunk`] gives them: where the text has eight bytes,
/// its last eight, loaded at once and shifted down past those before the
/// `remaining`. The last statement of every stub (`ret;` and a newline)
/// is read this way, where the loop of [`padded_chunk`] and its call cost
/// about 15 instructions.
#[inline(always)]
fn tail_chunk(bytes: &[u8], remaining: usize) -> [u8; 8] {
    match bytes.last_chunk::<8>() {
        Some(last) if remaining < 8 => u64::from_le_bytes(*last)
            .checked_shr(8 * (8 - remaining) as u32)
            .unwrap_or(0)
            .to_le_bytes(),
        _ => padded_chunk(bytes, bytes.len() - remaining.min(bytes.len())),
    }
}

/// The eight bytes from `start`, zero where the text ends before them (a
/// zero byte ends a word, as the end of the text does).
#[inline(never)]
fn padded_chunk(bytes: &[u8], start: usize) -> [u8; 8] {
    let mut chunk = [0u8; 8];
    for (slot, &b) in chunk.iter_mut().zip(bytes.get(start..).unwrap_or_default()) {
        *slot = b;
    }
    chunk
}

/// Whether the word at `start`, whose first eight bytes (zero past the
/// end of the text) are `chunk`, is the keyword `kw` (a [`key`]): one
/// masked comparison of the loaded bytes and a test of the byte after the
/// keyword, where [`Parser::word_key`] scans the word byte by byte.
///
/// The byte after the keyword is read from `chunk`'s memory, not shifted
/// out of the load: where several keywords are tested after a jump on the
/// first byte, LLVM computed the shifts for every length before the jump.
#[inline(always)]
fn is_keyword(bytes: &[u8], start: usize, chunk: &[u8; 8], kw: u64) -> bool {
    let loaded = u64::from_le_bytes(*chunk);
    let len = key_len(kw);
    if len < 8 {
        loaded & (u64::MAX >> (64 - 8 * len)) == kw && !is_ident_char(chunk[len])
    } else {
        loaded == kw && !bytes.get(start + 8).is_some_and(|&b| is_ident_char(b))
    }
}

fn parse_type(word: u64) -> Option<Type> {
    const G1: u64 = key(b"g1");
    const G2: u64 = key(b"g2");
    const G4: u64 = key(b"g4");
    const G8: u64 = key(b"g8");
    const F4: u64 = key(b"f4");
    const F8: u64 = key(b"f8");
    const REF: u64 = key(b"ref");
    const PINT: u64 = key(b"pint");
    Some(match word {
        G1 => Type::G1,
        G2 => Type::G2,
        G4 => Type::G4,
        G8 => Type::G8,
        F4 => Type::F4,
        F8 => Type::F8,
        REF => Type::Ref,
        PINT => Type::Pint,
        _ => return None,
    })
}

/// The calling conventions' names, as [`key`]s.
mod cc_kw {
    use super::key;
    pub(super) const PLATFORM: u64 = key(b"platform");
    pub(super) const MANAGED: u64 = key(b"managed");
    pub(super) const RTH: u64 = key(b"rth");
    pub(super) const JNI: u64 = key(b"jni");
    pub(super) const STDCALL: u64 = key(b"stdcall");
    pub(super) const HANDLER: u64 = key(b"handler");
}

fn parse_cc(word: u64) -> Option<CallConv> {
    use cc_kw::*;
    Some(match word {
        PLATFORM => CallConv::Platform,
        MANAGED => CallConv::Managed,
        RTH => CallConv::Rth,
        JNI => CallConv::Jni,
        STDCALL => CallConv::StdCall,
        HANDLER => CallConv::Handler,
        _ => return None,
    })
}

fn parse_unary(word: u64) -> Option<UnaryOp> {
    const NEG: u64 = key(b"neg");
    const NOT: u64 = key(b"not");
    const SX1: u64 = key(b"sx1");
    const SX2: u64 = key(b"sx2");
    const SX4: u64 = key(b"sx4");
    const ZX1: u64 = key(b"zx1");
    const ZX2: u64 = key(b"zx2");
    const ZX4: u64 = key(b"zx4");
    const TR1: u64 = key(b"tr1");
    const TR2: u64 = key(b"tr2");
    const TR4: u64 = key(b"tr4");
    Some(match word {
        NEG => UnaryOp::Neg,
        NOT => UnaryOp::Not,
        SX1 => UnaryOp::Sx1,
        SX2 => UnaryOp::Sx2,
        SX4 => UnaryOp::Sx4,
        ZX1 => UnaryOp::Zx1,
        ZX2 => UnaryOp::Zx2,
        ZX4 => UnaryOp::Zx4,
        TR1 => UnaryOp::Tr1,
        TR2 => UnaryOp::Tr2,
        TR4 => UnaryOp::Tr4,
        _ => return None,
    })
}

/// The binary operator `b` is, if it is one by itself (`+ - * & | ^`).
#[inline(always)]
fn one_byte_binary_op(b: u8) -> Option<BinaryOp> {
    Some(match b {
        b'+' => BinaryOp::Add,
        b'-' => BinaryOp::Sub,
        b'*' => BinaryOp::Mul,
        b'&' => BinaryOp::And,
        b'|' => BinaryOp::Or,
        b'^' => BinaryOp::Xor,
        _ => return None,
    })
}

/// Builds a variable of one kind from its index.
type MakeVar = fn(u32) -> Var;

/// What a word that starts a variable looks like: `r`, or a prefix
/// (`i`, `l`, `o`, `sp`) and what follows it.
fn var_prefix(word: &[u8]) -> Option<(usize, MakeVar)> {
    match word {
        [b's', b'p', ..] => Some((2, Var::StdPlace)),
        [b'i', ..] => Some((1, Var::Input)),
        [b'l', ..] => Some((1, Var::Local)),
        [b'o', ..] => Some((1, Var::Output)),
        _ => None,
    }
}

/// Whether `word`, followed by the byte `after`, is a variable: `r`, or a
/// prefix followed by digits, or by nothing and then a directive or hole.
fn is_var(word: &[u8], after: Option<u8>) -> bool {
    if word == b"r" {
        return true;
    }
    match var_prefix(word) {
        Some((n, _)) if word.len() > n => word[n..].iter().all(u8::is_ascii_digit),
        Some(_) => matches!(after, Some(b'%' | b'{')),
        None => false,
    }
}

/// The text of `%0i` to `%9i`, for the directive's messages: a table
/// lookup instead of slicing the source (which checks char boundaries).
const INT_DIRECTIVES: [&str; 10] = [
    "%0i", "%1i", "%2i", "%3i", "%4i", "%5i", "%6i", "%7i", "%8i", "%9i",
];

/// A `%` directive as written.
enum Directive {
    /// `%Ni`
    Int(usize),
    /// `%Nm` / `%Nj`
    Signature(usize, SignatureKind),
    /// `%g`, `%p`, `%n`, `%o`
    Label(u8),
}

impl<'s, 'd, A: DirectiveArgs + ?Sized, const SHIFTED: bool> Parser<'s, 'd, A, SHIFTED> {
    /// A parser of `src`, whose spans are shifted by `base` (which must be
    /// zero unless `SHIFTED`).
    pub(crate) fn new(
        src: &'s str,
        base: u32,
        args: &'d mut A,
        labels: LabelTable<'d>,
        label_counter: &'d mut u32,
    ) -> Parser<'s, 'd, A, SHIFTED> {
        debug_assert!(SHIFTED || base == 0, "an unshifted parser with a base");
        Parser {
            bytes: src.as_bytes(),
            src,
            pos: 0,
            base,
            args,
            labels,
            label_counter,
            spare_params: None,
            errors: Vec::new(),
        }
    }

    // ---------------------------------------------------------------- lexing

    /// What spans are shifted by: `base`, known to be zero unless `SHIFTED`.
    #[inline(always)]
    fn base(&self) -> u32 {
        if SHIFTED { self.base } else { 0 }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(start as u32 + self.base(), end as u32 + self.base())
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    /// Skip blanks and `//` comments. Inlined: most calls find a token at
    /// once, and then cost one table lookup and one test.
    ///
    /// The scan is [`blank_end`], over the bytes and a cursor passed by
    /// value: kept in registers and stored once, where a loop advancing
    /// `self.pos` stored it, and reloaded the text's address, at every blank.
    #[inline(always)]
    fn skip_ws(&mut self) {
        self.pos = blank_end(self.bytes, self.pos);
    }

    /// Skip the blanks before the next statement, and say whether the
    /// text ends there.
    ///
    /// Between two statements there is nearly always one newline and then
    /// the next statement's first byte: both are tested at once, where
    /// [`blank_end`]'s loop tests the newline, loops back and tests the
    /// next byte again (about 8 instructions more per statement).
    #[inline(always)]
    fn at_end(&mut self) -> bool {
        let (bytes, pos) = (self.bytes, self.pos);
        // `pos + 1` in the text, so `pos` is too (one bounds check).
        self.pos = match bytes.get(pos + 1) {
            Some(&next) if bytes[pos] == b'\n' && CLASS[next as usize] & (SPACE | SLASH) == 0 => {
                pos + 1
            }
            _ => blank_end(bytes, pos),
        };
        self.pos >= bytes.len()
    }

    /// End of the identifier starting at `start` (`start` if there is none).
    #[inline(always)]
    fn word_end(&self, start: usize) -> usize {
        if !self.bytes.get(start).is_some_and(|&b| is_ident_start(b)) {
            return start;
        }
        class_run_end(self.bytes, start + 1, IDENT)
    }

    /// The identifier starting at `start`: its [`key`] and its end (`start`
    /// if there is none, with key 0).
    ///
    /// Where 8 bytes of text remain, one unaligned load gives both: the end
    /// is found among the loaded bytes and the key is the load masked to
    /// them, where a scan for the end and then a second load for the key
    /// bounds-checked the text twice.
    #[inline(always)]
    fn word_key(&self, start: usize) -> (u64, usize) {
        let bytes = self.bytes;
        let Some(chunk) = bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) else {
            let end = self.word_end(start);
            return (key(&bytes[start..end]), end);
        };
        if !is_ident_start(chunk[0]) {
            return (0, start);
        }
        let loaded = u64::from_le_bytes(*chunk);
        for (len, &b) in chunk.iter().enumerate().skip(1) {
            if !is_ident_char(b) {
                return (loaded & (u64::MAX >> (64 - 8 * len)), start + len);
            }
        }
        // Eight letters (`platform`, `push_m2n`, `tailcall`), or more.
        if !bytes.get(start + 8).is_some_and(|&b| is_ident_char(b)) {
            return (loaded, start + 8);
        }
        (0, class_run_end(bytes, start + 9, IDENT))
    }

    /// The statement the word at `start` begins, and where the word ends:
    /// a keyword of up to eight bytes, `:`, or [`Head::Other`] (ending at
    /// `start`) for anything else.
    ///
    /// One load of eight bytes, a jump on the first of them, and
    /// [`is_keyword`] for each keyword that begins with it: where
    /// [`Self::word_key`] scanned the word and a binary search over all
    /// the keywords' keys followed, about 15 instructions more per
    /// statement.
    #[inline(always)]
    fn statement_head(&self, start: usize) -> (Head, usize) {
        let bytes = self.bytes;
        let rest = bytes.get(start..).unwrap_or_default();
        let padded;
        let chunk = match rest.first_chunk::<8>() {
            Some(chunk) => chunk,
            None => {
                padded = tail_chunk(bytes, rest.len());
                &padded
            }
        };
        let is = |kw: u64| is_keyword(bytes, start, chunk, kw);
        let (head, kw) = match chunk[0] {
            b'l' if is(kw::LD) => (Head::Ld, kw::LD),
            b'l' if is(kw::LOCALS) => (Head::Locals, kw::LOCALS),
            b's' if is(kw::ST) => (Head::St, kw::ST),
            b'j' if is(kw::JC) => (Head::Jc, kw::JC),
            b'j' if is(kw::J) => (Head::J, kw::J),
            b'r' if is(kw::RET) => (Head::Ret, kw::RET),
            b'c' if is(kw::CALL) => (Head::Call, kw::CALL),
            b'c' if is(kw::CAS) => (Head::Cas, kw::CAS),
            b'p' if is(kw::PUSH_M2N) => (Head::PushM2n, kw::PUSH_M2N),
            b'p' if is(kw::POP_M2N) => (Head::PopM2n, kw::POP_M2N),
            b'p' if is(kw::PRINT) => (Head::Print, kw::PRINT),
            b'i' if is(kw::INC) => (Head::Inc, kw::INC),
            b'i' if is(kw::IN2OUT) => (Head::In2Out, kw::IN2OUT),
            b'o' if is(kw::OUT) => (Head::Out, kw::OUT),
            b'a' if is(kw::ALLOC) => (Head::Alloc, kw::ALLOC),
            b'e' if is(kw::ENTRY) => (Head::Entry, kw::ENTRY),
            b't' if is(kw::TAILCALL) => (Head::TailCall, kw::TAILCALL),
            b'h' if is(kw::HANDLES) => (Head::Handles, kw::HANDLES),
            b':' => return (Head::Label, start + 1),
            _ => return (Head::Other, start),
        };
        (head, start + key_len(kw))
    }

    /// The text of `start..end`, which holds whole characters.
    fn text(&self, start: usize, end: usize) -> &'s str {
        self.src.get(start..end).unwrap_or("")
    }

    /// Consume an identifier, giving its [`key`] and its extent; `expected`
    /// names it for the error message.
    #[inline(always)]
    fn word(&mut self, expected: &'static str) -> PResult<(u64, usize, usize)> {
        self.skip_ws();
        let start = self.pos;
        let (word, end) = self.word_key(start);
        if end == start {
            return Err(self.expected(expected));
        }
        self.pos = end;
        Ok((word, start, end))
    }

    /// An error about the word `start..end`.
    #[cold]
    #[inline(never)]
    fn word_error(
        &self,
        start: usize,
        end: usize,
        kind: fn(String) -> SyntaxErrorKind,
    ) -> Box<SyntaxError> {
        Box::new(SyntaxError {
            kind: kind(self.text(start, end).to_owned()),
            span: self.span(start, end),
        })
    }

    /// An error saying what was expected and what is here instead.
    ///
    /// Errors are built out of line (`#[cold]`), so the parsing functions
    /// stay small and their common path straight.
    #[cold]
    #[inline(never)]
    fn expected(&self, expected: &'static str) -> Box<SyntaxError> {
        Box::new(self.expected_error(expected))
    }

    fn expected_error(&self, expected: &'static str) -> SyntaxError {
        let start = self.pos;
        match self.peek() {
            None => SyntaxError {
                kind: SyntaxErrorKind::UnexpectedEnd { expected },
                span: self.span(start, start),
            },
            Some(b) => {
                let w = self.text(start, self.word_end(start));
                let (found, len) = if !w.is_empty() {
                    (format!("`{w}`"), w.len())
                } else if b.is_ascii() {
                    (format!("`{}`", b as char), 1)
                } else {
                    let c = self.src[start..].chars().next().unwrap_or('?');
                    (format!("`{c}`"), c.len_utf8())
                };
                SyntaxError {
                    kind: SyntaxErrorKind::Expected { expected, found },
                    span: self.span(start, start + len),
                }
            }
        }
    }

    /// End of the word or character at `start` (for error spans).
    fn token_end(&self, start: usize) -> usize {
        let rest = &self.src[start..];
        let word = rest.bytes().take_while(|&b| is_ident_char(b)).count();
        if word > 0 {
            start + word
        } else {
            start + rest.chars().next().map_or(0, char::len_utf8)
        }
    }

    #[cold]
    #[inline(never)]
    fn error(&self, kind: SyntaxErrorKind, start: usize, end: usize) -> Box<SyntaxError> {
        Box::new(SyntaxError {
            kind,
            span: self.span(start, end),
        })
    }

    /// Consume `b` (never a blank) after any blanks. `b` is tested first:
    /// punctuation mostly follows its token directly, and then the blank
    /// skip (a table lookup) is not needed.
    #[inline(always)]
    fn eat(&mut self, b: u8) -> bool {
        debug_assert!(CLASS[b as usize] & (SPACE | SLASH) == 0);
        if self.peek() == Some(b) {
            self.pos += 1;
            return true;
        }
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn expect(&mut self, b: u8, expected: &'static str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    /// Whether the word at the cursor is the keyword `kw` (a [`key`]), as
    /// [`Self::statement_head`] tells: one masked comparison of eight
    /// bytes loaded at once, where scanning the word and building its key
    /// byte by byte cost several times that.
    #[inline(always)]
    fn at_keyword(&self, kw: u64) -> bool {
        let (bytes, start) = (self.bytes, self.pos);
        match bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
            Some(chunk) => is_keyword(bytes, start, chunk, kw),
            None => is_keyword(bytes, start, &padded_chunk(bytes, start), kw),
        }
    }

    /// Whether the word at `start` is `kw`, a keyword longer than eight
    /// bytes (so not a [`key`]): a `starts_with` of the constant, which is
    /// two loads and compares, and a test of the byte after it, where
    /// scanning the word and comparing it as a slice cost about 80
    /// instructions.
    #[inline(always)]
    fn long_keyword_at(&self, start: usize, kw: &[u8]) -> bool {
        let rest = self.bytes.get(start..).unwrap_or_default();
        rest.starts_with(kw) && !rest.get(kw.len()).is_some_and(|&b| is_ident_char(b))
    }

    /// Consume the keyword `kw` (a [`key`]) after any blanks, if it is
    /// there (the blanks are skipped either way).
    fn eat_keyword(&mut self, kw: u64) -> bool {
        self.skip_ws();
        let found = self.at_keyword(kw);
        if found {
            self.pos += key_len(kw);
        }
        found
    }

    /// [`Self::eat_keyword`], which must find `kw`; `expected` names it
    /// for the error message.
    fn keyword(&mut self, kw: u64, expected: &'static str) -> PResult<()> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    // ------------------------------------------------------- numbers & directives

    /// A decimal or hex literal with an optional `-`, as an exact i128 in
    /// `-2^63 ..= 2^64-1`.
    fn literal(&mut self) -> PResult<(i128, usize, usize)> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let hex = self.peek() == Some(b'0') && matches!(self.peek_at(1), Some(b'x' | b'X'));
        if hex {
            self.pos += 2;
        }
        let digits_start = self.pos;
        let radix: u128 = if hex { 16 } else { 10 };
        let mut value: u128 = 0;
        let mut overflow = false;
        while let Some(b) = self.peek() {
            let d = match b {
                b'0'..=b'9' => (b - b'0') as u128,
                b'a'..=b'f' if hex => (b - b'a' + 10) as u128,
                b'A'..=b'F' if hex => (b - b'A' + 10) as u128,
                _ => break,
            };
            value = value * radix + d;
            if value > u64::MAX as u128 + 1 {
                overflow = true;
                value = u64::MAX as u128 + 2;
            }
            self.pos += 1;
        }
        let end_digits = self.pos;
        if end_digits == digits_start || self.peek().is_some_and(is_ident_char) {
            while self.peek().is_some_and(is_ident_char) {
                self.pos += 1;
            }
            return Err(self.error(
                SyntaxErrorKind::MalformedNumber(self.src[start..self.pos].to_owned()),
                start,
                self.pos,
            ));
        }
        let text = || self.src[start..self.pos].to_owned();
        let limit = if negative {
            1u128 << 63
        } else {
            u64::MAX as u128
        };
        if overflow || value > limit {
            return Err(self.error(
                SyntaxErrorKind::ImmediateOutOfRange(text()),
                start,
                self.pos,
            ));
        }
        let v = if negative {
            -(value as i128)
        } else {
            value as i128
        };
        Ok((v, start, self.pos))
    }

    /// `%` directive at the current position.
    fn directive(&mut self) -> PResult<(Directive, &'s str, usize)> {
        let start = self.pos;
        self.pos += 1; // '%'
        let digits_start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.src[digits_start..self.pos];
        let letter = self.peek();
        if letter.is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let bad = |p: &Self, reason| {
            Err(p.error(
                SyntaxErrorKind::BadDirective {
                    directive: text.to_owned(),
                    reason,
                },
                start,
                p.pos,
            ))
        };
        let index = || digits.parse::<usize>().ok();
        let d = match (letter, digits.is_empty()) {
            (Some(c @ (b'g' | b'p' | b'n' | b'o')), true) => Directive::Label(c),
            (Some(b'i'), false) => match index() {
                Some(n) => Directive::Int(n),
                None => return bad(self, "argument index too large"),
            },
            (Some(b'm'), false) => match index() {
                Some(n) => Directive::Signature(n, SignatureKind::Managed),
                None => return bad(self, "argument index too large"),
            },
            (Some(b'j'), false) => match index() {
                Some(n) => Directive::Signature(n, SignatureKind::Jni),
                None => return bad(self, "argument index too large"),
            },
            _ => {
                return bad(
                    self,
                    "directives are %Ni, %Nm, %Nj (N an argument index) and the label directives %g %p %n %o",
                );
            }
        };
        Ok((d, text, start))
    }

    /// `{name}` hole at the current position.
    fn hole(&mut self, usage: IntUse) -> PResult<(i128, usize, usize)> {
        let start = self.pos;
        let close = match self.bytes[start..].iter().position(|&b| b == b'}') {
            Some(p) => start + p,
            None => {
                self.pos = self.bytes.len();
                return Err(self.error(
                    SyntaxErrorKind::UnexpectedEnd { expected: "`}`" },
                    start,
                    self.pos,
                ));
            }
        };
        let name = self.src[start + 1..close].trim();
        self.pos = close + 1;
        let span = self.span(start, self.pos);
        match self.args.hole(name, span, usage) {
            Ok(v) => Ok((v, start, self.pos)),
            Err(kind) => Err(self.error(kind, start, self.pos)),
        }
    }

    /// An integer: literal, `%Ni` or hole. Literals are checked against `usage`;
    /// directive values are checked by the [`DirectiveArgs`].
    #[inline(always)]
    fn int_value(&mut self, usage: IntUse, expected: &'static str) -> PResult<(i128, Span)> {
        self.skip_ws();
        self.int_value_here(usage, expected)
    }

    /// [`Self::int_value`] where the blanks before it are already skipped.
    ///
    /// Out of line, as are the readers of variables, operands, addresses
    /// and labels: one copy of each, shared by every statement, keeps the
    /// code a parse runs through small enough to stay in the CPU's
    /// micro-op cache beside the checker's and the backend's (see the
    /// module comment).
    #[inline(never)]
    fn int_value_here(&mut self, usage: IntUse, expected: &'static str) -> PResult<(i128, Span)> {
        if let Some(value) = self.short_directive(usage) {
            return value;
        }
        let start = self.pos;
        if let Some((v, end)) = self.short_decimal(start)
            && usage.accepts(v)
        {
            self.pos = end;
            return Ok((v, self.span(start, end)));
        }
        self.int_value_general(usage, expected)
    }

    /// `%Ni` with a one-digit N at the cursor, as nearly every directive
    /// is written: its value and span, or `None` for any other shape.
    #[inline(always)]
    fn short_directive(&mut self, usage: IntUse) -> Option<PResult<(i128, Span)>> {
        let start = self.pos;
        let &[b'%', d @ b'0'..=b'9', b'i'] = self.bytes[start..].first_chunk::<3>()? else {
            return None;
        };
        let end = start + 3;
        self.pos = end;
        let index = usize::from(d - b'0');
        Some(match self.args.int(index, INT_DIRECTIVES[index], usage) {
            Ok(v) => Ok((v, self.span(start, end))),
            Err(kind) => Err(self.error(kind, start, end)),
        })
    }

    /// A decimal literal of at most 18 digits (so it fits an `i64`) with an
    /// optional `-`, and where it ends; `None` for any other shape (hex,
    /// longer, malformed), which [`Self::literal`] handles.
    #[inline(always)]
    fn short_decimal(&self, start: usize) -> Option<(i128, usize)> {
        let bytes = self.bytes;
        let negative = bytes.get(start) == Some(&b'-');
        let digits = start + usize::from(negative);
        let (value, end) = short_digits(bytes, digits, 18);
        let value = value as i64; // at most 18 digits: below 10^18 < 2^63
        // A following letter or digit (`0x1f`, `12ab`, a 19th digit) is
        // not this shape.
        if end == digits || bytes.get(end).is_some_and(|&b| is_ident_char(b)) {
            return None;
        }
        Some((i128::from(if negative { -value } else { value }), end))
    }

    /// [`Self::int_value`] for every shape, with all its errors.
    #[inline(never)]
    fn int_value_general(
        &mut self,
        usage: IntUse,
        expected: &'static str,
    ) -> PResult<(i128, Span)> {
        match self.peek() {
            Some(b'%') => {
                let (d, text, start) = self.directive()?;
                match d {
                    Directive::Int(n) => match self.args.int(n, text, usage) {
                        Ok(v) => Ok((v, self.span(start, self.pos))),
                        Err(kind) => Err(self.error(kind, start, self.pos)),
                    },
                    _ => Err(self.error(
                        SyntaxErrorKind::BadDirective {
                            directive: text.to_owned(),
                            reason: "an integer (`%Ni`) is needed here",
                        },
                        start,
                        self.pos,
                    )),
                }
            }
            Some(b'{') => {
                let (v, start, end) = self.hole(usage)?;
                Ok((v, self.span(start, end)))
            }
            Some(b'-' | b'0'..=b'9') => {
                let (v, start, end) = match self.literal() {
                    Err(e)
                        if matches!(usage, IntUse::Index | IntUse::Count)
                            && matches!(e.kind, SyntaxErrorKind::ImmediateOutOfRange(_)) =>
                    {
                        let what = if usage == IntUse::Index {
                            "variable index"
                        } else {
                            "count"
                        };
                        let SyntaxErrorKind::ImmediateOutOfRange(text) = e.kind else {
                            return Err(e);
                        };
                        return Err(Box::new(SyntaxError {
                            kind: SyntaxErrorKind::IndexTooLarge {
                                what,
                                text,
                                max: MAX_INDEX as u64,
                            },
                            span: e.span,
                        }));
                    }
                    other => other?,
                };
                let ok = match usage {
                    IntUse::Immediate => true,
                    IntUse::Index | IntUse::Count => {
                        if v < 0 {
                            false
                        } else if v > MAX_INDEX as i128 {
                            let what = if usage == IntUse::Index {
                                "variable index"
                            } else {
                                "count"
                            };
                            return Err(self.error(
                                SyntaxErrorKind::IndexTooLarge {
                                    what,
                                    text: self.src[start..end].to_owned(),
                                    max: MAX_INDEX as u64,
                                },
                                start,
                                end,
                            ));
                        } else {
                            true
                        }
                    }
                    IntUse::Size => usage.accepts(v),
                };
                if ok {
                    Ok((v, self.span(start, end)))
                } else {
                    Err(self.error(
                        SyntaxErrorKind::Expected {
                            expected,
                            found: format!("`{}`", &self.src[start..end]),
                        },
                        start,
                        end,
                    ))
                }
            }
            _ => Err(self.expected(expected)),
        }
    }

    /// An integer that must fit a `u32` (counts, sizes, indices).
    ///
    /// Inlined, like [`Self::ret_ty`] and [`Self::cc`]: each has a few
    /// callers, and the call (registers saved, the result passed through
    /// memory) cost more than their common path.
    #[inline(always)]
    fn u32_value(&mut self, usage: IntUse, expected: &'static str) -> PResult<(u32, Span)> {
        let (v, span) = self.int_value(usage, expected)?;
        // Directive values were range checked by the DirectiveArgs; the macro's
        // placeholders are chosen to fit in u32.
        match u32::try_from(v) {
            Ok(v) => Ok((v, span)),
            Err(_) => Err(Box::new(SyntaxError {
                kind: SyntaxErrorKind::ArgumentOutOfRange {
                    directive: self.src
                        [(span.start - self.base()) as usize..(span.end - self.base()) as usize]
                        .to_owned(),
                    what: usage.describe(),
                    value: v,
                },
                span,
            })),
        }
    }

    // ------------------------------------------------------------- variables

    /// Whether a variable starts at the current position.
    fn at_var(&self) -> bool {
        let end = self.word_end(self.pos);
        is_var(&self.bytes[self.pos..end], self.bytes.get(end).copied())
    }

    /// A variable as nearly every one is written, `r` or a prefix and at
    /// most five digits making an index `<= MAX_INDEX`, read in one pass
    /// over its bytes: the variable and where it ends. `None` for any other
    /// shape, which [`Self::var_general`] handles, errors and all.
    #[inline(always)]
    fn var_fast(&self, start: usize) -> Option<(Var, usize)> {
        if let Some(short) = self.var_short(start) {
            return Some(short);
        }
        let bytes = self.bytes;
        let first = *bytes.get(start)?;
        let digits = match first {
            b'i' | b'l' | b'o' => start + 1,
            b's' if bytes.get(start + 1) == Some(&b'p') => start + 2,
            b'r' if !bytes.get(start + 1).is_some_and(|&b| is_ident_char(b)) => {
                return Some((Var::Ret, start + 1));
            }
            _ => return None,
        };
        let (k, end) = short_digits(bytes, digits, 5);
        let k = k as u32; // at most 5 digits
        if end == digits || k > MAX_INDEX || bytes.get(end).is_some_and(|&b| is_ident_char(b)) {
            return None;
        }
        let var = match first {
            b'i' => Var::Input(k),
            b'l' => Var::Local(k),
            b'o' => Var::Output(k),
            _ => Var::StdPlace(k),
        };
        Some((var, end))
    }

    /// The commonest variables of all, `iN`, `lN` or `oN` with one digit,
    /// read from the three bytes at `start` (the variable and the byte
    /// after it): one length test, where [`Self::var_fast`]'s digit loop
    /// tests the length at each byte, and no range test of the index.
    /// `None` for any other shape, or where less than three bytes remain.
    #[inline(always)]
    fn var_short(&self, start: usize) -> Option<(Var, usize)> {
        let &[first, d @ b'0'..=b'9', after] = self.bytes.get(start..)?.first_chunk::<3>()? else {
            return None;
        };
        if is_ident_char(after) {
            return None;
        }
        let k = u32::from(d - b'0');
        let var = match first {
            b'i' => Var::Input(k),
            b'l' => Var::Local(k),
            b'o' => Var::Output(k),
            _ => return None,
        };
        Some((var, start + 2))
    }

    #[inline(always)]
    fn var(&mut self) -> PResult<Place> {
        self.skip_ws();
        self.var_here()
    }

    /// [`Self::var`] where the blanks before it are already skipped. Out of
    /// line, as [`Self::int_value_here`].
    #[inline(never)]
    fn var_here(&mut self) -> PResult<Place> {
        let start = self.pos;
        match self.var_fast(start) {
            Some((var, end)) => {
                self.pos = end;
                Ok(Place {
                    var,
                    span: self.span(start, end),
                })
            }
            None => self.var_general(start),
        }
    }

    /// A variable whose index is a directive, a hole or a long literal, or
    /// an error.
    #[inline(never)]
    fn var_general(&mut self, start: usize) -> PResult<Place> {
        let end = self.word_end(start);
        let w = &self.bytes[start..end];
        let Some((prefix_len, make)) = var_prefix(w) else {
            return Err(self.expected("a variable (iN, lN, oN, spN or r)"));
        };
        let index = &w[prefix_len..];
        self.pos += prefix_len;
        let digits = index.iter().take_while(|b| b.is_ascii_digit()).count();
        // The index: digits making up the rest of the word, or a directive / hole.
        let directive = digits == 0 && matches!(self.peek(), Some(b'%' | b'{'));
        let literal = digits > 0 && digits == index.len();
        let index = if directive || literal {
            self.u32_value(IntUse::Index, "a variable index")?.0
        } else {
            self.pos = start;
            return Err(self.expected("a variable (iN, lN, oN, spN or r)"));
        };
        if self.peek().is_some_and(is_ident_char) {
            let end = end.max(self.pos);
            return Err(self.error(
                SyntaxErrorKind::Expected {
                    expected: "a variable (iN, lN, oN, spN or r)",
                    found: format!("`{}`", self.text(start, end)),
                },
                start,
                end,
            ));
        }
        Ok(Place {
            var: make(index),
            span: self.span(start, self.pos),
        })
    }

    /// The [`key`] and end of the word at `start` if it is two to four
    /// bytes long, as every type's name and `void` are; `None` for other
    /// words, and where less than five bytes of text remain (the callers
    /// then read the word with [`Self::word`]).
    ///
    /// The word's end is found by testing those three places for a byte
    /// that ends it, and its key is one load masked to that length, where
    /// [`Self::word_key`] scans byte by byte from the start. The bytes
    /// before the end are not tested: a key that matches a type or `void`
    /// is all identifier bytes, so it is then the whole word's.
    #[inline(always)]
    fn short_key_at(&self, start: usize) -> Option<(u64, usize)> {
        let chunk = self.bytes.get(start..)?.first_chunk::<5>()?;
        // One load, masked by a constant on each path: assembled from the
        // bytes the tests loaded and masked by a shift of the length, the
        // key cost about ten instructions more.
        let loaded = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let (key, len) = if !is_ident_char(chunk[2]) {
            (loaded & 0xffff, 2)
        } else if !is_ident_char(chunk[3]) {
            (loaded & 0xff_ffff, 3)
        } else if !is_ident_char(chunk[4]) {
            (loaded, 4)
        } else {
            return None;
        };
        Some((u64::from(key), start + len))
    }

    /// The type named by the word at `start`, and the word's end, as
    /// [`Self::short_key_at`] reads it.
    #[inline(always)]
    fn type_at(&self, start: usize) -> Option<(Type, usize)> {
        let (key, end) = self.short_key_at(start)?;
        Some((parse_type(key)?, end))
    }

    #[inline(always)]
    fn ty(&mut self) -> PResult<Type> {
        self.skip_ws();
        match self.type_at(self.pos) {
            Some((ty, end)) => {
                self.pos = end;
                Ok(ty)
            }
            None => self.ty_general(),
        }
    }

    /// [`Self::ty`] for a word [`Self::type_at`] does not take: a type at
    /// the very end of the text, or an error.
    #[cold]
    #[inline(never)]
    fn ty_general(&mut self) -> PResult<Type> {
        let (w, start, end) = self.word("a type")?;
        match parse_type(w) {
            Some(ty) => Ok(ty),
            None => Err(self.word_error(start, end, SyntaxErrorKind::UnknownType)),
        }
    }

    /// A return type or `void`.
    #[inline(always)]
    fn ret_ty(&mut self) -> PResult<Option<Type>> {
        self.skip_ws();
        if let Some((key, end)) = self.short_key_at(self.pos) {
            let ty = match key {
                kw::VOID => Some(None),
                _ => parse_type(key).map(Some),
            };
            if let Some(ty) = ty {
                self.pos = end;
                return Ok(ty);
            }
        }
        self.ret_ty_general()
    }

    /// [`Self::ret_ty`] for a word [`Self::short_key_at`] does not take, as
    /// [`Self::ty_general`].
    #[cold]
    #[inline(never)]
    fn ret_ty_general(&mut self) -> PResult<Option<Type>> {
        let (w, start, end) = self.word("a return type")?;
        if w == kw::VOID {
            return Ok(None);
        }
        match parse_type(w) {
            Some(ty) => Ok(Some(ty)),
            None => Err(self.word_error(start, end, SyntaxErrorKind::UnknownType)),
        }
    }

    /// A calling convention.
    ///
    /// Read as [`Self::statement_head`] reads a keyword, where eight bytes
    /// of text remain (a signature's `:` and more follow the convention);
    /// [`Self::cc_general`] reads the others. Out of line: its result,
    /// unlike the span it gave before, comes back in registers.
    #[inline(never)]
    fn cc(&mut self) -> PResult<CallConv> {
        self.cc_inline()
    }

    /// [`Self::cc`], inlined where the entry's is read (once per stub,
    /// without the call and its result through memory).
    #[inline(always)]
    fn cc_inline(&mut self) -> PResult<CallConv> {
        self.skip_ws();
        let (bytes, start) = (self.bytes, self.pos);
        if let Some(chunk) = bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
            let is = |kw: u64| is_keyword(bytes, start, chunk, kw);
            let found = match chunk[0] {
                b'm' if is(cc_kw::MANAGED) => Some((CallConv::Managed, cc_kw::MANAGED)),
                b'p' if is(cc_kw::PLATFORM) => Some((CallConv::Platform, cc_kw::PLATFORM)),
                b'j' if is(cc_kw::JNI) => Some((CallConv::Jni, cc_kw::JNI)),
                b'r' if is(cc_kw::RTH) => Some((CallConv::Rth, cc_kw::RTH)),
                b's' if is(cc_kw::STDCALL) => Some((CallConv::StdCall, cc_kw::STDCALL)),
                b'h' if is(cc_kw::HANDLER) => Some((CallConv::Handler, cc_kw::HANDLER)),
                _ => None,
            };
            if let Some((cc, kw)) = found {
                self.pos = start + key_len(kw);
                return Ok(cc);
            }
        }
        self.cc_general()
    }

    /// [`Self::cc`] near the end of the text, or an error.
    #[cold]
    #[inline(never)]
    fn cc_general(&mut self) -> PResult<CallConv> {
        let (w, start, end) = self.word("a calling convention")?;
        match parse_cc(w) {
            Some(cc) => Ok(cc),
            None => Err(self.word_error(start, end, SyntaxErrorKind::UnknownCallConv)),
        }
    }

    /// An operand with an optional cast.
    #[inline(always)]
    fn operand(&mut self) -> PResult<Operand> {
        self.skip_ws();
        self.operand_here()
    }

    /// [`Self::operand`] where the blanks before it are already skipped.
    /// Out of line, as [`Self::int_value_here`].
    ///
    /// The commonest operands, `iN`, `lN` or `oN` with a one-digit index
    /// or a one-digit immediate, without a cast, are read here from one
    /// three-byte slice, and the look for a cast is [`Self::may_cast`]:
    /// code that needs few registers, so that the function saves two
    /// (where the digit loop of [`Self::var_fast`] and the blank loop of
    /// [`Self::cast_colon`] made it save six). Every other shape goes on
    /// to [`Self::operand_general`] (a tail call). In one function, the
    /// frame the other shapes need came with a spill of the index being
    /// read into it, digit by digit: about 15 instructions and twice as
    /// many cycles more per operand.
    #[inline(never)]
    fn operand_here(&mut self) -> PResult<Operand> {
        let start = self.pos;
        let plain = match self.bytes.get(start..).and_then(<[u8]>::first_chunk::<3>) {
            Some(&[d @ b'0'..=b'9', after, _]) if !is_ident_char(after) => {
                Some((OperandKind::Imm(i128::from(d - b'0')), start + 1))
            }
            Some(&[first, d @ b'0'..=b'9', after]) if !is_ident_char(after) => {
                let k = u32::from(d - b'0');
                match first {
                    b'i' => Some((OperandKind::Var(Var::Input(k)), start + 2)),
                    b'l' => Some((OperandKind::Var(Var::Local(k)), start + 2)),
                    b'o' => Some((OperandKind::Var(Var::Output(k)), start + 2)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((kind, end)) = plain
            && !self.may_cast(end)
        {
            self.pos = end;
            return Ok(Operand {
                kind,
                cast: None,
                span: self.span(start, end),
            });
        }
        self.operand_general(start)
    }

    /// Whether a cast may follow an operand ending at `end`, as far as a
    /// look at the next two bytes tells: a `:`, or a blank before a `:`,
    /// or more blanks or a comment (which [`Self::operand_general`] then
    /// looks past).
    ///
    /// Unlike [`Self::cast_colon`], it holds no loop and no look-up in
    /// [`CLASS`] (the bytes are compared with the blanks, `/` and `:`
    /// themselves), and so adds few registers to those
    /// [`Self::operand_here`] needs.
    #[inline(always)]
    fn may_cast(&self, end: usize) -> bool {
        let bytes = self.bytes;
        match bytes.get(end) {
            Some(b':' | b'/') => true,
            Some(b' ' | b'\t' | b'\n' | b'\r') => matches!(
                bytes.get(end + 1),
                Some(b':' | b'/' | b' ' | b'\t' | b'\n' | b'\r')
            ),
            _ => false,
        }
    }

    /// [`Self::operand_here`] for every shape, with all its errors.
    #[inline(never)]
    fn operand_general(&mut self, start: usize) -> PResult<Operand> {
        let kind = match self.peek() {
            // A one-digit immediate (`0`, `1`), read in place: the call
            // to `int_value_here` costs several times the read.
            Some(d @ b'0'..=b'9') if !self.peek_at(1).is_some_and(is_ident_char) => {
                self.pos += 1;
                OperandKind::Imm(i128::from(d - b'0'))
            }
            // So is a one-digit `%Ni`.
            Some(b'%') if let Some(value) = self.short_directive(IntUse::Immediate) => {
                OperandKind::Imm(value?.0)
            }
            Some(b'-' | b'0'..=b'9' | b'%' | b'{') => {
                OperandKind::Imm(self.int_value_here(IntUse::Immediate, "an operand")?.0)
            }
            Some(b) if is_ident_start(b) => match self.var_fast(start) {
                Some((var, end)) => {
                    self.pos = end;
                    OperandKind::Var(var)
                }
                None if self.at_var() => OperandKind::Var(self.var_general(start)?.var),
                None => return Err(self.expected("an operand (a variable or an immediate)")),
            },
            _ => return Err(self.expected("an operand (a variable or an immediate)")),
        };
        self.operand_cast(start, kind)
    }

    /// Where the `:` of a cast after an operand ending at `end` is, if one
    /// follows (after any blanks).
    ///
    /// The span of an operand ends with the operand or its cast, before
    /// any blanks: without a cast the cursor stays put, so the blanks are
    /// only looked at here, not skipped.
    #[inline(always)]
    fn cast_colon(&self, end: usize) -> Option<usize> {
        let bytes = self.bytes;
        match bytes.get(end) {
            Some(b':') => Some(end),
            Some(&b) if CLASS[b as usize] & (SPACE | SLASH) != 0 => {
                let at = blank_end(bytes, end);
                (bytes.get(at) == Some(&b':')).then_some(at)
            }
            _ => None,
        }
    }

    /// The operand `kind`, begun at `start` and read up to the cursor,
    /// with the cast that may follow it.
    #[inline(always)]
    fn operand_cast(&mut self, start: usize, kind: OperandKind) -> PResult<Operand> {
        let cast = match self.cast_colon(self.pos) {
            Some(at) => {
                self.pos = at + 1;
                Some(self.ty()?)
            }
            None => None,
        };
        Ok(Operand {
            kind,
            cast,
            span: self.span(start, self.pos),
        })
    }

    // --------------------------------------------------------------- pieces

    /// A label: a name, or `%g %p %n %o`. Out of line, as
    /// [`Self::int_value_here`], with the directives out of line again
    /// ([`Self::generated_label_ref`]): kept apart, they no longer make
    /// every named label save the registers the directive reader needs.
    #[inline(never)]
    fn label_ref(&mut self) -> PResult<LabelRef> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b) if is_ident_start(b) || b == b'$' => {}
            Some(b'%') => return self.generated_label_ref(start),
            _ => return Err(self.expected("a label name")),
        }
        let end = class_run_end(self.bytes, start + 1, LABEL);
        self.pos = end;
        let src = self.src;
        let id = self.labels.intern(&self.bytes[start..end], || {
            src.get(start..end).unwrap_or("")
        });
        Ok(LabelRef {
            id,
            span: self.span(start, self.pos),
        })
    }

    /// [`Self::label_ref`] for the directive `%g %p %n %o` at `start`.
    #[inline(never)]
    fn generated_label_ref(&mut self, start: usize) -> PResult<LabelRef> {
        let (d, text, _) = self.directive()?;
        let n = match d {
            Directive::Label(b'g') => {
                *self.label_counter += 1;
                *self.label_counter
            }
            Directive::Label(b'p') => *self.label_counter,
            Directive::Label(b'n') => *self.label_counter + 1,
            Directive::Label(_) => *self.label_counter + 2,
            _ => {
                return Err(self.error(
                    SyntaxErrorKind::BadDirective {
                        directive: text.to_owned(),
                        reason: "a label (a name, %g, %p, %n or %o) is needed here",
                    },
                    start,
                    self.pos,
                ));
            }
        };
        let mut buf = [0; 9];
        let name = generated_label_name(n, &mut buf);
        let id = self.labels.intern(name.as_bytes(), || name);
        Ok(LabelRef {
            id,
            span: self.span(start, self.pos),
        })
    }

    /// [`Self::signature_rest`] for an `out`'s signature. Out of line,
    /// where the entry's is read inline: once per stub, its result
    /// written where the entry is built rather than returned through
    /// memory.
    #[inline(never)]
    fn out_signature_rest(&mut self, cc: CallConv, start: usize) -> PResult<EntrySignature> {
        self.signature_rest(cc, start, false)
    }

    /// What follows `cc:` in a signature; `arbitrary` only when allowed.
    #[inline(always)]
    fn signature_rest(
        &mut self,
        cc: CallConv,
        start: usize,
        allow_arbitrary: bool,
    ) -> PResult<EntrySignature> {
        self.skip_ws();
        if self.peek() == Some(b'%') {
            return self.signature_directive(cc, start);
        }
        // No type starts with `a`: most signatures are told apart by
        // their first byte.
        if self.peek() == Some(b'a') && self.long_keyword_at(self.pos, b"arbitrary") {
            let astart = self.pos;
            self.pos += "arbitrary".len();
            if !allow_arbitrary {
                return Err(self.error(SyntaxErrorKind::ArbitraryNotAllowed, astart, self.pos));
            }
            return Ok(EntrySignature::Arbitrary {
                cc,
                span: self.span(start, self.pos),
            });
        }
        // A signature without parameters keeps an empty vector, which
        // allocates nothing (and so is no spare for the next parse).
        let mut params = Vec::new();
        if self.peek() != Some(b':') {
            params = match &mut self.spare_params {
                Some(spares) => spares.take(),
                None => SpareParams::new_params(),
            };
            loop {
                params.push(self.ty()?);
                if !self.eat(b',') {
                    break;
                }
            }
        }
        self.expect(b':', "`:` before the return type")?;
        let ret = self.ret_ty()?;
        Ok(EntrySignature::Typed(Signature {
            cc,
            params,
            ret,
            span: self.span(start, self.pos),
        }))
    }

    /// [`Self::signature_rest`] for a `%Nm` / `%Nj` directive. Out of line:
    /// the directive reader and the arguments' signature lookup would
    /// otherwise be inlined into every signature read.
    #[inline(never)]
    fn signature_directive(&mut self, cc: CallConv, start: usize) -> PResult<EntrySignature> {
        let (d, text, dstart) = self.directive()?;
        match d {
            Directive::Signature(n, kind) => match self.args.signature(n, text, kind) {
                Ok((params, ret)) => Ok(EntrySignature::Typed(Signature {
                    cc,
                    params,
                    ret,
                    span: self.span(start, self.pos),
                })),
                Err(kind) => Err(self.error(kind, dstart, self.pos)),
            },
            _ => Err(self.error(
                SyntaxErrorKind::BadDirective {
                    directive: text.to_owned(),
                    reason: "a signature (`%Nm` or `%Nj`) is needed here",
                },
                dstart,
                self.pos,
            )),
        }
    }

    fn signature(&mut self) -> PResult<Signature> {
        self.skip_ws();
        let start = self.pos;
        let cc = self.cc()?;
        self.expect(b':', "`:` after the calling convention")?;
        match self.out_signature_rest(cc, start)? {
            EntrySignature::Typed(sig) => Ok(sig),
            EntrySignature::Arbitrary { span, .. } => Err(Box::new(SyntaxError {
                kind: SyntaxErrorKind::ArbitraryNotAllowed,
                span,
            })),
        }
    }

    /// An address, read into `addr`. Out of line, as
    /// [`Self::int_value_here`], with the one-pass read of the usual shape
    /// inlined into it and the general reader kept out of line.
    ///
    /// Returned, an address was copied out of the result into a temporary
    /// before it was copied into its statement: written into a place the
    /// caller keeps, it is copied once (64 bytes).
    #[inline(never)]
    fn address(&mut self, addr: &mut Address) -> PResult<()> {
        self.skip_ws();
        let start = self.pos;
        match self.address_fast(start, addr) {
            Some(fast) => fast,
            None => {
                *addr = self.address_general(start)?;
                Ok(())
            }
        }
    }

    /// An address as nearly every one is written, `[v+k:ty]` with no
    /// blanks, `v` a plainly written variable and `k` a one-digit `%Ni` or
    /// a short decimal, read in one pass into `addr`; `None` for any other
    /// shape (or a type that is not one), left to
    /// [`Self::address_general`]. The shape is checked to its `]` before
    /// the directive is asked for its value, so a fallback never asks
    /// twice; an error from the directive is the one the general reader
    /// would report at that point.
    ///
    /// Each part is stored into `addr` as soon as it is read, rather than
    /// the whole address at the end: the parts read first no longer hold
    /// registers (and stack slots) while the rest is read, about 15
    /// instructions less per address. A shape found not to be this one
    /// halfway leaves `addr` partly written, and the general reader then
    /// writes all of it.
    #[inline(always)]
    fn address_fast(&mut self, start: usize, addr: &mut Address) -> Option<PResult<()>> {
        let bytes = self.bytes;
        if bytes.get(start) != Some(&b'[') {
            return None;
        }
        let (var, var_end) = self.var_fast(start + 1)?;
        if bytes.get(var_end) != Some(&b'+') {
            return None;
        }
        // Stored as soon as it is read, so that it needs no register
        // while the rest is (the general reader overwrites it all if the
        // shape turns out to be another).
        addr.base = Some(Place {
            var,
            span: self.span(start + 1, var_end),
        });
        let term = var_end + 1;
        // The offset: `Some(index)` for `%Ni`, else the literal's value.
        let (directive, literal, term_end) = match bytes[term..].first_chunk::<3>() {
            Some(&[b'%', d @ b'0'..=b'9', b'i']) => (Some(usize::from(d - b'0')), 0, term + 3),
            _ => {
                let (v, end) = self.short_decimal(term)?;
                (None, v, end)
            }
        };
        if bytes.get(term_end) != Some(&b':') {
            return None;
        }
        let (ty, ty_end) = self.type_at(term_end + 1)?;
        if bytes.get(ty_end) != Some(&b']') {
            return None;
        }
        addr.ty = ty;
        addr.span = self.span(start, ty_end + 1);
        addr.offset = match directive {
            Some(index) => {
                match self
                    .args
                    .int(index, INT_DIRECTIVES[index], IntUse::Immediate)
                {
                    Ok(v) => v,
                    Err(kind) => {
                        self.pos = term_end;
                        return Some(Err(self.error(kind, term, term_end)));
                    }
                }
            }
            None => literal,
        };
        addr.index = None;
        addr.ordering = Ordering::Plain;
        self.pos = ty_end + 1;
        Some(Ok(()))
    }

    /// [`Self::address`] for every shape, with all its errors.
    #[inline(never)]
    fn address_general(&mut self, start: usize) -> PResult<Address> {
        if self.peek() != Some(b'[') {
            return Err(self.expected("`[`"));
        }
        self.pos += 1;
        let mut base: Option<Place> = None;
        let mut index: Option<(Place, u32)> = None;
        let mut offset: i128 = 0;
        let mut negative = false;
        loop {
            self.skip_ws();
            let term_start = self.pos;
            if self.peek().is_some_and(is_ident_start) {
                let v = self.var_here()?;
                if self.eat(b'*') {
                    let (scale, _) = self.u32_value(IntUse::Size, "a scale")?;
                    if negative {
                        return Err(self.error(
                            SyntaxErrorKind::SubtractedVariable,
                            term_start,
                            self.pos,
                        ));
                    }
                    if index.is_some() {
                        return Err(self.error(
                            SyntaxErrorKind::TooManyAddressTerms,
                            term_start,
                            self.pos,
                        ));
                    }
                    index = Some((v, scale));
                } else {
                    if negative {
                        return Err(self.error(
                            SyntaxErrorKind::SubtractedVariable,
                            term_start,
                            self.pos,
                        ));
                    }
                    if base.is_none() {
                        base = Some(v);
                    } else if index.is_none() {
                        index = Some((v, 1));
                    } else {
                        return Err(self.error(
                            SyntaxErrorKind::TooManyAddressTerms,
                            term_start,
                            self.pos,
                        ));
                    }
                }
            } else {
                let (value, _) = self.int_value_here(IntUse::Immediate, "an address term")?;
                if self.eat(b'*') {
                    let v = self.var()?;
                    if negative {
                        return Err(self.error(
                            SyntaxErrorKind::SubtractedVariable,
                            term_start,
                            self.pos,
                        ));
                    }
                    if index.is_some() {
                        return Err(self.error(
                            SyntaxErrorKind::TooManyAddressTerms,
                            term_start,
                            self.pos,
                        ));
                    }
                    let scale = match u32::try_from(value) {
                        Ok(s) => s,
                        Err(_) => {
                            return Err(self.error(
                                SyntaxErrorKind::Expected {
                                    expected: "a scale (1, 2, 4 or 8)",
                                    found: format!("`{value}`"),
                                },
                                term_start,
                                self.pos,
                            ));
                        }
                    };
                    index = Some((v, scale));
                } else if negative {
                    offset -= value;
                } else {
                    offset += value;
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b'+') => {
                    self.pos += 1;
                    negative = false;
                }
                Some(b'-') => {
                    self.pos += 1;
                    negative = true;
                }
                Some(b':') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.expected("`+`, `-` or `:` in the address")),
            }
        }
        let ty = self.ty()?;
        let mut ordering = Ordering::Plain;
        if self.eat(b',') {
            let (w, start, end) = self.word("`acquire` or `release`")?;
            ordering = match w {
                kw::ACQUIRE => Ordering::Acquire,
                kw::RELEASE => Ordering::Release,
                _ => {
                    return Err(self.word_error(start, end, |w| SyntaxErrorKind::Expected {
                        expected: "`acquire` or `release`",
                        found: format!("`{w}`"),
                    }));
                }
            };
        }
        self.expect(b']', "`]`")?;
        Ok(Address {
            base,
            index,
            offset,
            ty,
            ordering,
            span: self.span(start, self.pos),
        })
    }

    fn predicate(&mut self) -> PResult<Predicate> {
        self.skip_ws();
        let b0 = self.peek();
        let b1 = self.peek_at(1);
        let b2 = self.peek_at(2);
        let (p, len) = match (b0, b1, b2) {
            (Some(b'='), Some(b'='), _) => (Predicate::Eq, 2),
            (Some(b'='), _, _) => (Predicate::Eq, 1),
            (Some(b'!'), Some(b'='), _) => (Predicate::Ne, 2),
            (Some(b'<'), Some(b'='), Some(b'u')) => (Predicate::Ule, 3),
            (Some(b'<'), Some(b'='), _) => (Predicate::Le, 2),
            (Some(b'<'), Some(b'u'), _) => (Predicate::Ult, 2),
            (Some(b'<'), _, _) => (Predicate::Lt, 1),
            (Some(b'>'), Some(b'='), Some(b'u')) => (Predicate::Uge, 3),
            (Some(b'>'), Some(b'='), _) => (Predicate::Ge, 2),
            (Some(b'>'), Some(b'u'), _) => (Predicate::Ugt, 2),
            (Some(b'>'), _, _) => (Predicate::Gt, 1),
            _ => return Err(self.expected("a comparison (= != < <= > >= <u <=u >u >=u)")),
        };
        self.pos += len;
        Ok(p)
    }

    /// A binary operator after any blanks, or `None`.
    ///
    /// The `;` of a move is told apart first, with one byte test. A
    /// one-byte operator between two spaces with a token after it, as
    /// binary operations are written (`l2 + l1`), is read with the blanks
    /// around it from one four-byte slice, as an assignment's ` = `.
    fn binary_op(&mut self) -> Option<BinaryOp> {
        let bytes = self.bytes;
        match bytes.get(self.pos) {
            Some(b';') => return None,
            Some(b' ') => {
                if let Some(&[_, b, b' ', next]) =
                    bytes.get(self.pos..).and_then(<[u8]>::first_chunk::<4>)
                    && CLASS[next as usize] & (SPACE | SLASH) == 0
                    && let Some(op) = one_byte_binary_op(b)
                {
                    self.pos += 3;
                    return Some(op);
                }
            }
            _ => {}
        }
        self.skip_ws();
        let (op, len) = match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some(b), _, _) if let Some(op) = one_byte_binary_op(b) => (op, 1),
            (Some(b'<'), Some(b'<'), _) => (BinaryOp::Shl, 2),
            (Some(b'>'), Some(b'>'), Some(b'u')) => (BinaryOp::Shr, 3),
            (Some(b'>'), Some(b'>'), _) => (BinaryOp::Sar, 2),
            _ => return None,
        };
        self.pos += len;
        Some(op)
    }

    fn string(&mut self) -> PResult<Box<str>> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error(SyntaxErrorKind::UnterminatedString, start, self.pos));
            };
            self.pos += c.len_utf8();
            match c {
                '\'' => return Ok(out.into()),
                '\\' => {
                    let Some(e) = self.src[self.pos..].chars().next() else {
                        return Err(self.error(
                            SyntaxErrorKind::UnterminatedString,
                            start,
                            self.pos,
                        ));
                    };
                    self.pos += e.len_utf8();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        '0' => '\0',
                        other => other,
                    });
                }
                c => out.push(c),
            }
        }
    }

    // ---------------------------------------------------------- statements

    pub(crate) fn parse_entry(&mut self) -> PResult<Entry> {
        self.skip_ws();
        let start = self.pos;
        let is_entry = match self.bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) {
            Some(chunk) => is_keyword(self.bytes, start, chunk, kw::ENTRY),
            None => is_keyword(
                self.bytes,
                start,
                &padded_chunk(self.bytes, start),
                kw::ENTRY,
            ),
        };
        if !is_entry {
            let end = self.token_end(start);
            return Err(self.error(SyntaxErrorKind::MissingEntry, start, end));
        }
        self.pos += "entry".len();
        self.skip_ws();
        // `entry 0:`, the usual count, read without the call of
        // `u32_value` (its call, and its 48-byte result through memory,
        // cost several times the read).
        let std_places = match self.bytes[self.pos..].first_chunk::<2>() {
            Some(&[d @ b'0'..=b'9', b':']) => {
                self.pos += 1;
                u32::from(d - b'0')
            }
            _ => {
                self.u32_value(IntUse::Count, "the number of standard places")?
                    .0
            }
        };
        self.expect(b':', "`:` after the number of standard places")?;
        self.skip_ws();
        let sig_start = self.pos;
        let cc = self.cc_inline()?;
        self.expect(b':', "`:` after the calling convention")?;
        let signature = self.signature_rest(cc, sig_start, true)?;
        self.expect(b';', "`;`")?;
        Ok(Entry {
            std_places,
            signature,
            span: self.span(start, self.pos),
        })
    }

    /// Parse instructions until the end of the text, recovering after errors.
    pub(crate) fn parse_body(&mut self, out: &mut Vec<Instruction>) {
        // Where the statements read their address (see `Self::address`),
        // made once for the whole body.
        let mut addr = UNREAD_ADDRESS;
        while !self.at_end() {
            let start = self.pos;
            match self.instruction(out, &mut addr) {
                Ok(()) => {}
                Err(e) => {
                    self.errors.push(*e);
                    if self.errors.len() >= MAX_ERRORS {
                        let at = self.pos;
                        self.errors
                            .push(*self.error(SyntaxErrorKind::TooManyErrors, at, at));
                        return;
                    }
                    self.recover(start);
                }
            }
        }
    }

    /// Skip past the next `;` (at least one byte past `start`).
    fn recover(&mut self, start: usize) {
        let from = self.pos.max(start + 1).min(self.bytes.len());
        self.pos = match self.bytes[from..].iter().position(|&b| b == b';') {
            Some(p) => from + p + 1,
            None => self.bytes.len(),
        };
    }

    /// One statement, pushed onto `out` once it is complete (by
    /// [`Self::finish`], which builds it where it is pushed: an
    /// `Instruction` is large, and moving it costs copies).
    ///
    /// Called at a non-blank byte (`parse_body` skipped the blanks).
    /// Inlined into its one caller, so the registers it needs are saved
    /// once per body rather than once per statement.
    #[inline(always)]
    fn instruction(&mut self, out: &mut Vec<Instruction>, addr: &mut Address) -> PResult<()> {
        let start = self.pos;
        // Keywords first: none of them is a variable (`is_var`), so the
        // variable readers wait for `Head::Other`, where a plainly written
        // destination is read in one pass.
        let (head, end) = self.statement_head(start);
        self.pos = end;
        match head {
            Head::Label => {
                let label = self.label_ref()?;
                self.finish(out, start, || InstKind::Label(label))
            }
            Head::Entry => Err(self.error(SyntaxErrorKind::EntryNotFirst, start, self.pos)),
            Head::Locals => {
                self.skip_ws();
                // `locals 3;`, read in place as the entry's count is.
                let n = match self.bytes[self.pos..].first_chunk::<2>() {
                    Some(&[d @ b'0'..=b'9', b';']) => {
                        self.pos += 1;
                        u32::from(d - b'0')
                    }
                    _ => self.u32_value(IntUse::Count, "the number of locals")?.0,
                };
                self.finish(out, start, || InstKind::Locals(n))
            }
            Head::Alloc => {
                let dst = self.var()?;
                self.expect(b',', "`,`")?;
                let (size, _) = self.u32_value(IntUse::Size, "a size in bytes")?;
                self.finish(out, start, || InstKind::Alloc { dst, size })
            }
            Head::Ld => {
                let dst = self.var()?;
                self.expect(b',', "`,`")?;
                self.address(addr)?;
                let addr = *addr;
                // The `;` that ends nearly every load is told apart at
                // once, before `eat` looks past blanks for a `,`.
                let ext = if self.peek() != Some(b';') && self.eat(b',') {
                    let (w, start, end) = self.word("`sx` or `zx`")?;
                    match w {
                        kw::SX => Some(Extension::Sign),
                        kw::ZX => Some(Extension::Zero),
                        _ => {
                            return Err(self.word_error(
                                start,
                                end,
                                SyntaxErrorKind::UnknownSuffix,
                            ));
                        }
                    }
                } else {
                    None
                };
                self.finish(out, start, || InstKind::Ld { dst, addr, ext })
            }
            Head::St => {
                self.address(addr)?;
                let addr = *addr;
                self.expect(b',', "`,`")?;
                let src = self.operand()?;
                self.finish(out, start, || InstKind::St { addr, src })
            }
            Head::Inc => {
                self.address(addr)?;
                let addr = *addr;
                self.finish(out, start, || InstKind::Inc { addr })
            }
            Head::Cas => self.cas(start, out, addr),
            Head::J => {
                let target = self.label_ref()?;
                self.finish(out, start, || InstKind::Jump(target))
            }
            Head::Jc => {
                let lhs = self.operand()?;
                let predicate = self.predicate()?;
                let rhs = self.operand()?;
                let cond = Condition {
                    span: lhs.span.to(rhs.span),
                    lhs,
                    predicate,
                    rhs,
                };
                self.expect(b',', "`,`")?;
                let target = self.label_ref()?;
                self.finish(out, start, || InstKind::JumpIf { cond, target })
            }
            Head::Out => {
                let signature = self.signature()?;
                self.finish(out, start, || InstKind::Out(signature))
            }
            Head::In2Out => {
                self.skip_ws();
                let sig_start = self.pos;
                let cc = self.cc()?;
                self.expect(b':', "`:` after the calling convention")?;
                let ret = self.ret_ty()?;
                let sig_span = self.span(sig_start, self.pos);
                self.finish(out, start, || InstKind::In2Out { cc, ret, sig_span })
            }
            Head::Call => {
                let noret = self.peek() == Some(b'.')
                    && self.bytes[self.pos + 1..].starts_with(b"noret")
                    && !self
                        .bytes
                        .get(self.pos + 6)
                        .is_some_and(|&b| is_ident_char(b));
                let kind = if noret {
                    self.pos += ".noret".len();
                    CallKind::NoReturn
                } else {
                    CallKind::Call
                };
                let target = self.operand()?;
                self.finish(out, start, || InstKind::Call { kind, target })
            }
            Head::TailCall => {
                let target = self.operand()?;
                self.finish(out, start, || InstKind::Call {
                    kind: CallKind::Tail,
                    target,
                })
            }
            Head::Ret => self.finish(out, start, || InstKind::Ret),
            Head::PushM2n => {
                let (method, frame_type, handles) = self.push_m2n()?;
                self.finish(out, start, || InstKind::PushM2n {
                    method,
                    frame_type,
                    handles,
                })
            }
            Head::PopM2n => self.finish(out, start, || InstKind::PopM2n),
            Head::Handles => {
                self.expect(b'=', "`=`")?;
                let handles = self.operand()?;
                self.finish(out, start, || InstKind::Handles(handles))
            }
            Head::Print => self.print(start, out),
            // An assignment, the commonest statement.
            Head::Other => match self.var_fast(start) {
                Some((var, end)) => {
                    self.pos = end;
                    let dst = Place {
                        var,
                        span: self.span(start, end),
                    };
                    self.assignment(start, dst, out)
                }
                None => self.other_statement(start, out),
            },
        }
    }

    /// A statement whose first word is neither a keyword of up to eight
    /// bytes nor a plainly written variable: a longer keyword, a variable
    /// whose index is a directive or a hole, or an error. Out of line, as
    /// [`Self::cas`].
    #[inline(never)]
    fn other_statement(&mut self, start: usize, out: &mut Vec<Instruction>) -> PResult<()> {
        // The keywords longer than eight bytes first, before the word is
        // scanned.
        if self.long_keyword_at(start, b"m2n_save_all") {
            self.pos = start + "m2n_save_all".len();
            return self.finish(out, start, || InstKind::M2nSaveAll);
        }
        if self.long_keyword_at(start, b"std_places") {
            self.pos = start + "std_places".len();
            let (n, _) = self.u32_value(IntUse::Count, "the number of standard places")?;
            return self.finish(out, start, || InstKind::StdPlaces(n));
        }
        let end = self.word_end(start);
        if end == start {
            let c = self.src[start..].chars().next().unwrap_or('?');
            self.pos += c.len_utf8();
            return Err(self.error(SyntaxErrorKind::UnexpectedCharacter(c), start, self.pos));
        }
        if is_var(&self.bytes[start..end], self.bytes.get(end).copied()) {
            self.pos = start;
            let dst = self.var_general(start)?;
            return self.assignment(start, dst, out);
        }
        self.pos = end;
        Err(self.error(
            SyntaxErrorKind::UnknownInstruction(self.text(start, end).to_owned()),
            start,
            end,
        ))
    }

    /// The `;` ending the statement begun at `start`, then the statement
    /// (made by `make`) pushed onto `out`.
    ///
    /// Taking a closure rather than an `InstKind` is what keeps the
    /// statement off the stack: see [`push_in_place`].
    #[inline(always)]
    fn finish(
        &mut self,
        out: &mut Vec<Instruction>,
        start: usize,
        make: impl FnOnce() -> InstKind,
    ) -> PResult<()> {
        self.expect(b';', "`;`")?;
        let span = self.span(start, self.pos);
        push_in_place(out, || Instruction { kind: make(), span });
        Ok(())
    }

    /// `cas` after its keyword (begun at `start`). Out of line, as
    /// [`Self::print`]: rare statements, kept out of the loop that
    /// dispatches the common ones so that its code stays small.
    #[inline(never)]
    fn cas(&mut self, start: usize, out: &mut Vec<Instruction>, addr: &mut Address) -> PResult<()> {
        self.address(addr)?;
        let addr = *addr;
        self.expect(b'=', "`=`")?;
        let compare = self.operand()?;
        self.expect(b',', "`,`")?;
        let source = self.operand()?;
        self.expect(b',', "`,`")?;
        let on_fail = self.label_ref()?;
        self.finish(out, start, || InstKind::Cas {
            addr,
            compare,
            source,
            on_fail,
        })
    }

    /// `print` after its keyword (begun at `start`).
    #[inline(never)]
    fn print(&mut self, start: usize, out: &mut Vec<Instruction>) -> PResult<()> {
        self.skip_ws();
        let message = if self.peek() == Some(b'\'') {
            PrintMessage::Text(self.string()?)
        } else {
            PrintMessage::Address(
                self.int_value(IntUse::Immediate, "a string or an address")?
                    .0,
            )
        };
        let operand = if self.eat(b',') {
            Some(self.operand()?)
        } else {
            None
        };
        self.finish(out, start, || InstKind::Print { message, operand })
    }

    /// The operands of `push_m2n`: method, frame type, `handles`.
    fn push_m2n(&mut self) -> PResult<(Option<Operand>, Option<Operand>, bool)> {
        self.skip_ws();
        if self.peek() == Some(b';') {
            return Ok((None, None, false));
        }
        let method = Some(self.operand()?);
        if !self.eat(b',') {
            return Ok((method, None, false));
        }
        let (frame_type, handles) = self.push_m2n_rest()?;
        Ok((method, frame_type, handles))
    }

    /// The frame type and `handles` of a `push_m2n`, after the `,` that
    /// follows its method.
    fn push_m2n_rest(&mut self) -> PResult<(Option<Operand>, bool)> {
        if self.eat_keyword(kw::HANDLES) {
            return Ok((None, true));
        }
        let frame_type = Some(self.operand()?);
        let handles = self.eat(b',');
        if handles {
            self.keyword(kw::HANDLES, "`handles`")?;
        }
        Ok((frame_type, handles))
    }

    /// `v = ...;` starting at `start`, after its destination `v`.
    fn assignment(&mut self, start: usize, dst: Place, out: &mut Vec<Instruction>) -> PResult<()> {
        // ` = ` before a token, as nearly every assignment is written, is
        // read as one four-byte slice, where a blank skip before and after
        // the `=` tested the length and the class of each byte.
        match self
            .bytes
            .get(self.pos..)
            .and_then(<[u8]>::first_chunk::<4>)
        {
            Some(&[b' ', b'=', b' ', next]) if CLASS[next as usize] & (SPACE | SLASH) == 0 => {
                self.pos += 3;
            }
            _ => {
                self.expect(b'=', "`=`")?;
                self.skip_ws();
            }
        }
        let word_start = self.pos;
        // A variable, the commonest source, is read in one pass, before
        // the words that make other statements: no variable is `ts` or a
        // unary operator.
        let lhs = match self.var_fast(word_start) {
            Some((var, end)) => {
                self.pos = end;
                self.operand_cast(word_start, OperandKind::Var(var))?
            }
            None => {
                let (word, word_end) = self.word_key(word_start);
                if word == kw::TS {
                    self.pos = word_end;
                    return self.finish(out, start, || InstKind::Ts { dst });
                }
                if let Some(op) = parse_unary(word) {
                    self.pos = word_end;
                    let src = self.operand()?;
                    return self.finish(out, start, || InstKind::Unary { dst, op, src });
                }
                self.operand_here()?
            }
        };
        match self.binary_op() {
            Some(op) => {
                let rhs = self.operand()?;
                self.finish(out, start, || InstKind::Binary { dst, op, lhs, rhs })
            }
            None => self.finish(out, start, || InstKind::Move { dst, src: lhs }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_estimate_counts_every_semicolon() {
        // Lengths around the 32-byte rounds and the 255-round flush.
        for len in [
            0,
            1,
            31,
            32,
            33,
            63,
            255 * 32 - 1,
            255 * 32,
            255 * 32 + 1,
            20000,
        ] {
            for every in [1, 2, 7] {
                let text: String = (0..len)
                    .map(|i| if i % every == 0 { ';' } else { 'x' })
                    .collect();
                let expected = text.bytes().filter(|&b| b == b';').count();
                assert_eq!(
                    statement_estimate(&text),
                    expected,
                    "len {len} every {every}"
                );
            }
        }
    }

    #[test]
    fn no_keyword_is_a_variable() {
        // `instruction` matches keywords before it tests for a variable.
        for kw in [
            "entry",
            "locals",
            "alloc",
            "ld",
            "st",
            "inc",
            "cas",
            "j",
            "jc",
            "out",
            "in2out",
            "call",
            "tailcall",
            "ret",
            "push_m2n",
            "pop_m2n",
            "handles",
            "print",
            "std_places",
            "m2n_save_all",
            // `assignment` reads a variable before these.
            "ts",
            "neg",
            "not",
            "sx1",
            "sx2",
            "sx4",
            "zx1",
            "zx2",
            "zx4",
            "tr1",
            "tr2",
            "tr4",
        ] {
            for after in [None, Some(b'%'), Some(b'{'), Some(b' ')] {
                assert!(!is_var(kw.as_bytes(), after), "{kw}");
            }
            // Nor does the one-pass reader take one (or a prefix of one).
            let mut args = crate::directive::ArgList::new(&[]);
            let mut names = Vec::new();
            let mut counter = 0;
            let text = format!("{kw} ");
            let parser = Parser::<_, false>::new(
                &text,
                0,
                &mut args,
                LabelTable::reusing(&mut names),
                &mut counter,
            );
            assert!(parser.var_fast(0).is_none(), "{kw}");
        }
    }

    #[test]
    fn label_ids_are_positions_with_and_without_the_index() {
        let mut interned = Vec::new();
        let mut table = LabelTable::reusing(&mut interned);
        let names: Vec<String> = (0..300).map(|k| format!("L{k}")).collect();
        for round in 0..2 {
            for (k, name) in names.iter().enumerate() {
                assert_eq!(
                    table.intern(name.as_bytes(), || name),
                    LabelId(k as u32),
                    "{name} round {round}"
                );
            }
        }
        table.finish();
        // Back below the linear limit and up again, as a failed append
        // does (the index dropped with the names it no longer has).
        for len in [200, 10, 0] {
            interned.truncate(len);
            let mut table = LabelTable::resume(&mut interned, None);
            assert_eq!(table.len, len);
            for (k, name) in names.iter().enumerate().rev() {
                let id = table.intern(name.as_bytes(), || name);
                if k < len {
                    assert_eq!(id, LabelId(k as u32));
                }
            }
            assert_eq!(table.len, names.len());
            for name in &names {
                let id = table.intern(name.as_bytes(), || name);
                assert_eq!(&*table.names[id.0 as usize], name.as_str());
            }
            table.finish();
        }
    }

    #[test]
    fn tail_chunks_by_shift_match_padded_chunks_by_loop() {
        let text = b"entry 0:managed::void;\nret;\n";
        for len in 0..=text.len() {
            for start in len.saturating_sub(7)..=len {
                assert_eq!(
                    tail_chunk(&text[..len], len - start),
                    padded_chunk(&text[..len], start),
                    "{len} {start}"
                );
            }
        }
    }

    #[test]
    fn same_name_agrees_with_slice_equality() {
        let base = b"abcdefghijklmnopqrst";
        for len in 0..=base.len() {
            let a = &base[..len];
            assert!(same_name(a, a));
            // A difference at each position, and a shorter name.
            for at in 0..len {
                let mut b = a.to_owned();
                b[at] = b'_';
                assert!(!same_name(a, &b), "{a:?} {b:?}");
            }
            if len > 0 {
                assert!(!same_name(a, &a[..len - 1]));
            }
        }
    }

    #[test]
    fn generated_label_names_are_dollar_hex() {
        for n in [
            0,
            1,
            9,
            10,
            15,
            16,
            255,
            256,
            0xabcd,
            u32::MAX - 1,
            u32::MAX,
        ] {
            assert_eq!(generated_label_name(n, &mut [0; 9]), format!("${n:x}"));
        }
    }

    #[test]
    fn types_by_short_key_match_types_by_word() {
        let texts = [
            "g1]", "g8,", "f4:", "ref;", "pint]", "void;", "g4", "ref", "pint", "void", "g3]",
            "pints]", "g4x,", "g,4]", "r:f8]", "voids;", "  ref;", "é4;;;", "5];;;", "",
        ];
        for text in texts {
            let mut parser_args = crate::directive::ArgList::new(&[]);
            let mut names = Vec::new();
            let mut counter = 0;
            let mut parser = Parser::<_, false>::new(
                text,
                0,
                &mut parser_args,
                LabelTable::reusing(&mut names),
                &mut counter,
            );
            let fast = (parser.ty(), parser.pos);
            parser.pos = 0;
            assert_eq!(fast, (parser.ty_general(), parser.pos), "{text:?}");
            parser.pos = 0;
            let fast = (parser.ret_ty(), parser.pos);
            parser.pos = 0;
            assert_eq!(fast, (parser.ret_ty_general(), parser.pos), "{text:?}");
        }
    }

    #[test]
    fn keys_by_load_match_keys_by_loop() {
        let text = "a ab abc push_m2n tailcall m2n_save_all x";
        let mut parser_args = crate::directive::ArgList::new(&[]);
        let mut names = Vec::new();
        let mut counter = 0;
        let parser = Parser::<_, false>::new(
            text,
            0,
            &mut parser_args,
            LabelTable::reusing(&mut names),
            &mut counter,
        );
        let mut start = 0;
        while start < text.len() {
            let end = parser.word_end(start);
            assert_eq!(
                parser.word_key(start),
                (key(&text.as_bytes()[start..end]), end)
            );
            start = end + 1;
        }
    }

    /// `statement_head` and `cc` against the words' keys, as `word_key`
    /// reads them: every keyword, with each byte that may follow it, the
    /// end of the text, and one more letter; and their prefixes.
    #[test]
    fn keywords_by_masked_compare_match_keywords_by_key() {
        let heads = [
            ("entry", Head::Entry),
            ("locals", Head::Locals),
            ("alloc", Head::Alloc),
            ("ld", Head::Ld),
            ("st", Head::St),
            ("inc", Head::Inc),
            ("cas", Head::Cas),
            ("j", Head::J),
            ("jc", Head::Jc),
            ("out", Head::Out),
            ("in2out", Head::In2Out),
            ("call", Head::Call),
            ("tailcall", Head::TailCall),
            ("ret", Head::Ret),
            ("push_m2n", Head::PushM2n),
            ("pop_m2n", Head::PopM2n),
            ("handles", Head::Handles),
            ("print", Head::Print),
        ];
        let ccs = ["platform", "managed", "rth", "jni", "stdcall", "handler"];
        let words = heads.iter().map(|&(w, _)| w).chain(ccs).chain([
            "std_places",
            "m2n_save_all",
            "l0",
            "r",
            "x",
            "",
        ]);
        let mut texts = Vec::new();
        for word in words {
            for cut in 0..=word.len() {
                let word = &word[..cut];
                for after in ["", " ", ";", ":", ".", ",", "=", "x", "_", "0", "é", "\n"] {
                    texts.push(format!("{word}{after}"));
                    texts.push(format!("{word}{after}  ;;;;;;;;"));
                }
            }
        }
        texts.push(":l;".to_owned());
        for text in &texts {
            let mut args = crate::directive::ArgList::new(&[]);
            let mut names = Vec::new();
            let mut counter = 0;
            let mut parser = Parser::<_, false>::new(
                text,
                0,
                &mut args,
                LabelTable::reusing(&mut names),
                &mut counter,
            );
            let (key, end) = parser.word_key(0);
            let expected = match heads
                .iter()
                .find(|&&(w, _)| end > 0 && w.as_bytes() == &text.as_bytes()[..end])
            {
                Some(&(_, head)) => (head, end),
                None if text.starts_with(':') => (Head::Label, 1),
                None => (Head::Other, 0),
            };
            assert_eq!(parser.statement_head(0), expected, "{text:?}");
            let by_key = parse_cc(key).filter(|_| end > 0);
            assert_eq!(parser.cc().ok(), by_key, "{text:?}");
            if by_key.is_some() {
                assert_eq!(parser.pos, end, "{text:?}");
            }
        }
    }
    #[test]
    fn fast_readers_agree_with_the_general_ones() {
        let mut texts = Vec::new();
        for word in [
            "l0", "i9", "o3", "r", "sp0", "l12", "x1", "7", "07", "-1", "%0i",
        ] {
            for after in [
                "",
                ";",
                ",",
                " ",
                " ;",
                "  ;",
                ":",
                " :",
                " : ",
                "x",
                "0",
                "//c\n;",
                " //c\n:g4",
            ] {
                texts.push(format!("{word}{after}"));
            }
        }
        // Every prefix of `word`, followed by each kind of byte: `matches`
        // (the fast compare) must say yes exactly when the general word
        // scan finds `word`.
        type Words<'p> = Parser<'p, 'p, crate::directive::ArgList<'p, 'p>, false>;
        fn each_prefix(word: &str, matches: impl Fn(&Words<'_>) -> bool) {
            for cut in 0..=word.len() {
                for after in ["", ";", " ", "_", "x", "é"] {
                    let text = format!("{}{after}", &word[..cut]);
                    let mut args = crate::directive::ArgList::new(&[]);
                    let mut names = Vec::new();
                    let mut counter = 0;
                    let parser = Parser::<_, false>::new(
                        &text,
                        0,
                        &mut args,
                        LabelTable::reusing(&mut names),
                        &mut counter,
                    );
                    let w = &text.as_bytes()[..parser.word_end(0)];
                    assert_eq!(matches(&parser), w == word.as_bytes(), "{text:?}");
                }
            }
        }
        for (word, kw) in [("handles", kw::HANDLES), ("entry", kw::ENTRY)] {
            each_prefix(word, |parser| parser.at_keyword(kw));
        }
        for word in ["arbitrary", "m2n_save_all", "std_places"] {
            each_prefix(word, |parser| parser.long_keyword_at(0, word.as_bytes()));
        }
        for text in &texts {
            let args = [crate::directive::Arg::int(5)];
            let mut args = crate::directive::ArgList::new(&args);
            let mut names = Vec::new();
            let mut counter = 0;
            let mut parser = Parser::<_, false>::new(
                text,
                0,
                &mut args,
                LabelTable::reusing(&mut names),
                &mut counter,
            );
            if let Some((var, end)) = parser.var_short(0) {
                // The digit loop's reading, without the short path.
                let bytes = text.as_bytes();
                let (k, digits_end) = short_digits(bytes, 1, 5);
                assert_eq!(end, digits_end, "{text:?}");
                assert_eq!(
                    var_prefix(&bytes[..1]).map(|(_, make)| make(k as u32)),
                    Some(var)
                );
            }
            for end in 0..=text.len() {
                if !parser.may_cast(end) {
                    assert_eq!(parser.cast_colon(end), None, "{text:?} at {end}");
                }
            }
            let by_general = {
                parser.pos = 0;
                let op = parser.operand_general(0).ok();
                op.map(|op| (op, op.span.range(), parser.pos))
            };
            parser.pos = 0;
            let op = parser.operand_here().ok();
            let by_fast = op.map(|op| (op, op.span.range(), parser.pos));
            assert_eq!(by_fast, by_general, "{text:?}");
        }
    }
}

//! Backward liveness of locals, to find the ones that must survive a call.
//!
//! A backend keeps a local that is live across a `call` in a callee-saved
//! register or a frame slot; every other local can live in a scratch
//! register. This is the only liveness backends need, so it is computed
//! once here.

use crate::flow::{Block, InstFacts};
use lil_syntax::*;

/// A dense bit set over local indices, as words: a view into one flat
/// array that holds every block's set, so the analysis allocates at most
/// once (and not at all for a small stub).
pub(crate) struct LocalSet<'a>(&'a mut [u64]);

impl LocalSet<'_> {
    // Indices beyond the words (unreachable code may name locals that do
    // not exist) are not tracked: no context has them.
    fn insert(&mut self, k: u32) {
        if let Some(w) = self.0.get_mut(k as usize / 64) {
            *w |= 1 << (k % 64);
        }
    }
    fn remove(&mut self, k: u32) {
        if let Some(w) = self.0.get_mut(k as usize / 64) {
            *w &= !(1 << (k % 64));
        }
    }
    fn clear(&mut self) {
        self.0.fill(0);
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                Some(w as u32 * 64 + b)
            })
        })
    }
}

fn local_of(v: Var) -> Option<u32> {
    match v {
        Var::Local(k) => Some(k),
        _ => None,
    }
}

fn read_operand(live: &mut LocalSet<'_>, o: &Operand) {
    if let OperandKind::Var(Var::Local(k)) = o.kind {
        live.insert(k);
    }
}

fn read_address(live: &mut LocalSet<'_>, a: &Address) {
    if let Some(k) = a.base.and_then(|p| local_of(p.var)) {
        live.insert(k);
    }
    if let Some(k) = a.index.and_then(|(p, _)| local_of(p.var)) {
        live.insert(k);
    }
}

fn def(kind: &InstKind) -> Option<u32> {
    match kind {
        InstKind::Move { dst, .. }
        | InstKind::Unary { dst, .. }
        | InstKind::Binary { dst, .. }
        | InstKind::Ts { dst }
        | InstKind::Ld { dst, .. }
        | InstKind::Alloc { dst, .. } => local_of(dst.var),
        _ => None,
    }
}

/// The locals live before an instruction, from those live after it.
// Inlined into the sweep's one loop that runs it: no call per
// instruction, and one-word sets are known to be one word.
#[inline(always)]
fn transfer(kind: &InstKind, live: &mut LocalSet<'_>) {
    if let InstKind::Locals(_) = kind {
        live.clear();
        return;
    }
    if let Some(d) = def(kind) {
        live.remove(d);
    }
    match kind {
        InstKind::Move { src, .. } | InstKind::Unary { src, .. } => read_operand(live, src),
        InstKind::Binary { lhs, rhs, .. } => {
            read_operand(live, lhs);
            read_operand(live, rhs);
        }
        InstKind::Handles(o) => read_operand(live, o),
        InstKind::Ld { addr, .. } | InstKind::Inc { addr } => read_address(live, addr),
        InstKind::St { addr, src } => {
            read_address(live, addr);
            read_operand(live, src);
        }
        InstKind::Cas {
            addr,
            compare,
            source,
            ..
        } => {
            read_address(live, addr);
            read_operand(live, compare);
            read_operand(live, source);
        }
        InstKind::JumpIf { cond, .. } => {
            read_operand(live, &cond.lhs);
            read_operand(live, &cond.rhs);
        }
        InstKind::Call { target, .. } => read_operand(live, target),
        InstKind::PushM2n {
            method, frame_type, ..
        } => {
            for o in [method, frame_type].into_iter().flatten() {
                read_operand(live, o);
            }
        }
        InstKind::Print {
            operand: Some(o), ..
        } => read_operand(live, o),
        _ => {}
    }
}

/// The checker's control-flow graph.
pub(crate) struct Cfg<'a> {
    pub(crate) blocks: &'a [Block],
    pub(crate) insts: &'a [InstFacts],
    /// Every edge goes forward (the checker knows; looking again would
    /// cost a walk over the blocks).
    pub(crate) acyclic: bool,
}

/// Calls `found(i, live)` for each reachable `call` instruction `i` with
/// the locals live after it. `first_call` is the first such instruction
/// at which a local may hold a value (a local live across an earlier
/// call would hold one there), and `nlocals` > 0. `heap` holds the sets when they do not fit on the
/// stack.
pub(crate) fn live_across_calls(
    stub: &Stub,
    cfg: Cfg<'_>,
    nlocals: u32,
    first_call: u32,
    heap: &mut Vec<u64>,
    found: impl FnMut(u32, &LocalSet<'_>),
) {
    // Stubs rarely have more than 64 locals: their sets are then one
    // word, which the compiler clears, copies and compares inline rather
    // than by calls to `memset`, `memcpy` and `bcmp` for 8 bytes.
    let words = nlocals.div_ceil(64) as usize;
    if words == 1 {
        sweep::<true>(stub, cfg, 1, first_call, heap, found);
    } else {
        sweep::<false>(stub, cfg, words, first_call, heap, found);
    }
}

/// [`live_across_calls`] with sets of `words` words; `ONE_WORD` when
/// that is 1.
fn sweep<const ONE_WORD: bool>(
    stub: &Stub,
    cfg: Cfg<'_>,
    words: usize,
    first_call: u32,
    heap: &mut Vec<u64>,
    mut found: impl FnMut(u32, &LocalSet<'_>),
) {
    let Cfg {
        blocks,
        insts,
        acyclic,
    } = cfg;
    let nb = blocks.len();
    let words = if ONE_WORD { 1 } else { words };
    // Every block's live-in set, then the working set: one array, on the
    // stack for a small stub.
    let mut inline = [0u64; 16];
    let sets: &mut [u64] = match inline.get_mut(..(nb + 1) * words) {
        Some(sets) => sets,
        None => {
            heap.clear();
            heap.resize((nb + 1) * words, 0);
            heap
        }
    };
    let (live_in, live) = sets.split_at_mut(nb * words);
    let mut live = LocalSet(&mut live[..words]);
    // One backward pass over the blocks in reverse program order; it is
    // final when every edge goes forward, and nothing before the first
    // call matters then. Otherwise iterate to a fixpoint first and report
    // in a last pass.
    let from = if acyclic { first_call } else { 0 };
    let mut iterate = !acyclic;
    loop {
        let report = !iterate;
        let mut changed = false;
        for b in (0..nb).rev() {
            let block = &blocks[b];
            if block.end <= from {
                break;
            }
            live.clear();
            for s in block.succs.into_iter().flatten() {
                let s = s as usize * words;
                for (w, x) in live.0.iter_mut().zip(&live_in[s..s + words]) {
                    *w |= x;
                }
            }
            let reached = insts.get(block.start as usize).is_some_and(|f| f.reachable);
            for i in (block.start.max(from)..block.end).rev() {
                let kind = &stub.body[i as usize].kind;
                if report
                    && reached
                    && let InstKind::Call {
                        kind: CallKind::Call,
                        ..
                    } = kind
                {
                    found(i, &live);
                }
                transfer(kind, &mut live);
            }
            let mine = &mut live_in[b * words..(b + 1) * words];
            if *mine != *live.0 {
                mine.copy_from_slice(live.0);
                changed = true;
            }
        }
        if report {
            return;
        }
        iterate = changed;
    }
}

//! Backward liveness of locals, to find the ones that must survive a call.
//!
//! A backend keeps a local that is live across a `call` in a callee-saved
//! register or a frame slot; every other local can live in a scratch
//! register. This is the only liveness backends need, so it is computed
//! once here.

use crate::flow::{Block, InstFacts};
use lil_syntax::*;

/// A dense bit set over local indices: one inline word for up to 64
/// locals (the common case), more words beyond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LocalSet {
    Small(u64),
    Large(Vec<u64>),
}

impl LocalSet {
    pub(crate) fn new(n: u32) -> LocalSet {
        if n <= 64 {
            LocalSet::Small(0)
        } else {
            LocalSet::Large(vec![0; (n as usize).div_ceil(64)])
        }
    }
    fn insert(&mut self, k: u32) {
        match self {
            LocalSet::Small(w) if k < 64 => *w |= 1 << k,
            LocalSet::Small(_) => {}
            LocalSet::Large(v) => {
                if let Some(w) = v.get_mut(k as usize / 64) {
                    *w |= 1 << (k % 64);
                }
            }
        }
    }
    fn remove(&mut self, k: u32) {
        match self {
            LocalSet::Small(w) if k < 64 => *w &= !(1 << k),
            LocalSet::Small(_) => {}
            LocalSet::Large(v) => {
                if let Some(w) = v.get_mut(k as usize / 64) {
                    *w &= !(1 << (k % 64));
                }
            }
        }
    }
    fn clear(&mut self) {
        match self {
            LocalSet::Small(w) => *w = 0,
            LocalSet::Large(v) => v.iter_mut().for_each(|w| *w = 0),
        }
    }
    fn union(&mut self, other: &LocalSet) {
        match (self, other) {
            (LocalSet::Small(a), LocalSet::Small(b)) => *a |= b,
            (LocalSet::Large(a), LocalSet::Large(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x |= y;
                }
            }
            _ => {}
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let words: &[u64] = match self {
            LocalSet::Small(w) => std::slice::from_ref(w),
            LocalSet::Large(v) => v,
        };
        words.iter().enumerate().flat_map(|(w, &bits)| {
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

fn read_operand(live: &mut LocalSet, o: &Operand) {
    if let OperandKind::Var(Var::Local(k)) = o.kind {
        live.insert(k);
    }
}

fn read_address(live: &mut LocalSet, a: &Address) {
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
fn transfer(kind: &InstKind, live: &mut LocalSet) {
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

/// Calls `found(i, live)` for each reachable `call` instruction `i` with
/// the locals live after it. `first_call` is the first such instruction
/// and `nlocals` > 0.
pub(crate) fn live_across_calls(
    stub: &Stub,
    blocks: &[Block],
    insts: &[InstFacts],
    nlocals: u32,
    first_call: u32,
    mut found: impl FnMut(u32, &LocalSet),
) {
    let nb = blocks.len();
    let mut live_in = vec![LocalSet::new(nlocals); nb];
    // One backward pass over the blocks in reverse program order; it is
    // final when every edge goes forward, and nothing before the first
    // call matters then. Otherwise iterate to a fixpoint first and report
    // in a last pass.
    let acyclic = blocks
        .iter()
        .enumerate()
        .all(|(b, blk)| blk.succs.iter().flatten().all(|&s| s as usize > b));
    let from = if acyclic { first_call } else { 0 };
    let mut iterate = !acyclic;
    let mut live = LocalSet::new(nlocals);
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
                live.union(&live_in[s as usize]);
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
            if live != live_in[b] {
                live_in[b].clone_from(&live);
                changed = true;
            }
        }
        if report {
            return;
        }
        iterate = changed;
    }
}

//! Backward liveness of locals, to find the ones that must survive a call.
//!
//! A backend keeps a local that is live across a `call` in a callee-saved
//! register or a frame slot; every other local can live in a scratch
//! register. This is the only liveness backends need, so it is computed
//! once here.

use crate::flow::Block;
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
        words.iter().enumerate().flat_map(|(w, bits)| {
            (0..64)
                .filter(move |b| bits & (1u64 << b) != 0)
                .map(move |b| (w * 64 + b) as u32)
        })
    }
}

fn local_of(v: Var) -> Option<u32> {
    match v {
        Var::Local(k) => Some(k),
        _ => None,
    }
}

fn uses(kind: &InstKind, mut f: impl FnMut(u32)) {
    let op = |o: &Operand, f: &mut dyn FnMut(u32)| {
        if let OperandKind::Var(v) = o.kind
            && let Some(k) = local_of(v)
        {
            f(k);
        }
    };
    let addr = |a: &Address, f: &mut dyn FnMut(u32)| {
        if let Some(b) = a.base.and_then(|p| local_of(p.var)) {
            f(b);
        }
        if let Some(i) = a.index.and_then(|(p, _)| local_of(p.var)) {
            f(i);
        }
    };
    match kind {
        InstKind::Move { src, .. } | InstKind::Unary { src, .. } => op(src, &mut f),
        InstKind::Binary { lhs, rhs, .. } => {
            op(lhs, &mut f);
            op(rhs, &mut f);
        }
        InstKind::Handles(o) => op(o, &mut f),
        InstKind::Ld { addr: a, .. } | InstKind::Inc { addr: a } => addr(a, &mut f),
        InstKind::St { addr: a, src } => {
            addr(a, &mut f);
            op(src, &mut f);
        }
        InstKind::Cas {
            addr: a,
            compare,
            source,
            ..
        } => {
            addr(a, &mut f);
            op(compare, &mut f);
            op(source, &mut f);
        }
        InstKind::JumpIf { cond, .. } => {
            op(&cond.lhs, &mut f);
            op(&cond.rhs, &mut f);
        }
        InstKind::Call { target, .. } => op(target, &mut f),
        InstKind::PushM2n {
            method, frame_type, ..
        } => {
            for o in [method, frame_type].into_iter().flatten() {
                op(o, &mut f);
            }
        }
        InstKind::Print {
            operand: Some(o), ..
        } => op(o, &mut f),
        _ => {}
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

fn transfer(kind: &InstKind, live: &mut LocalSet) {
    if let InstKind::Locals(_) = kind {
        live.clear();
        return;
    }
    if let Some(d) = def(kind) {
        live.remove(d);
    }
    uses(kind, |k| live.insert(k));
}

/// For each `call` instruction (by index), the locals live after it.
pub(crate) fn live_across_calls(
    stub: &Stub,
    blocks: &[Block],
    reachable: &[bool],
    nlocals: u32,
) -> Vec<(u32, LocalSet)> {
    let has_call = stub.body.iter().enumerate().any(|(i, inst)| {
        reachable.get(i).copied().unwrap_or(false)
            && matches!(
                inst.kind,
                InstKind::Call {
                    kind: CallKind::Call,
                    ..
                }
            )
    });
    if !has_call || nlocals == 0 {
        return Vec::new();
    }
    let nb = blocks.len();
    let mut live_in = vec![LocalSet::new(nlocals); nb];
    let mut out = Vec::new();
    // One backward pass over the blocks in reverse program order; it is
    // final when every edge goes forward. Otherwise iterate to a fixpoint
    // first and record in a last pass.
    let acyclic = blocks
        .iter()
        .enumerate()
        .all(|(b, blk)| blk.succs.iter().flatten().all(|&s| s as usize > b));
    let mut iterate = !acyclic;
    loop {
        let record = !iterate;
        let mut changed = false;
        for b in (0..nb).rev() {
            let block = &blocks[b];
            let mut live = LocalSet::new(nlocals);
            for s in block.succs.into_iter().flatten() {
                live.union(&live_in[s as usize]);
            }
            let reached = reachable
                .get(block.start as usize)
                .copied()
                .unwrap_or(false);
            for i in (block.start..block.end).rev() {
                let kind = &stub.body[i as usize].kind;
                if record
                    && reached
                    && let InstKind::Call {
                        kind: CallKind::Call,
                        ..
                    } = kind
                {
                    out.push((i, live.clone()));
                }
                transfer(kind, &mut live);
            }
            if live != live_in[b] {
                live_in[b] = live;
                changed = true;
            }
        }
        if record {
            return out;
        }
        iterate = changed;
    }
}

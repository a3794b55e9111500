//! Backward liveness of locals, to find the ones that must survive a call.
//!
//! A backend keeps a local that is live across a `call` in a callee-saved
//! register or a frame slot; every other local can live in a scratch
//! register. This is the only liveness backends need, so it is computed
//! once here.

use crate::flow::Block;
use lil_syntax::*;

/// A dense bit set over local indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalSet(Vec<u64>);

impl LocalSet {
    pub(crate) fn new(n: u32) -> LocalSet {
        LocalSet(vec![0; (n as usize).div_ceil(64)])
    }
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
        self.0.iter_mut().for_each(|w| *w = 0);
    }
    fn union(&mut self, other: &LocalSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, bits)| {
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
    let mut op = |o: &Operand| {
        if let OperandKind::Var(v) = o.kind
            && let Some(k) = local_of(v)
        {
            f(k);
        }
    };
    let mut addr_uses: Vec<u32> = Vec::new();
    let mut addr = |a: &Address| {
        if let Some(b) = a.base.and_then(|p| local_of(p.var)) {
            addr_uses.push(b);
        }
        if let Some(i) = a.index.and_then(|(p, _)| local_of(p.var)) {
            addr_uses.push(i);
        }
    };
    match kind {
        InstKind::Move { src, .. } | InstKind::Unary { src, .. } => op(src),
        InstKind::Binary { lhs, rhs, .. } => {
            op(lhs);
            op(rhs);
        }
        InstKind::Handles(o) => op(o),
        InstKind::Ld { addr: a, .. } | InstKind::Inc { addr: a } => addr(a),
        InstKind::St { addr: a, src } => {
            addr(a);
            op(src);
        }
        InstKind::Cas {
            addr: a,
            compare,
            source,
            ..
        } => {
            addr(a);
            op(compare);
            op(source);
        }
        InstKind::JumpIf { cond, .. } => {
            op(&cond.lhs);
            op(&cond.rhs);
        }
        InstKind::Call { target, .. } => op(target),
        InstKind::PushM2n {
            method, frame_type, ..
        } => {
            for o in [method, frame_type].into_iter().flatten() {
                op(o);
            }
        }
        InstKind::Print {
            operand: Some(o), ..
        } => op(o),
        _ => {}
    }
    addr_uses.into_iter().for_each(f);
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
    let nb = blocks.len();
    let mut live_in = vec![LocalSet::new(nlocals); nb];
    let mut changed = true;
    while changed {
        changed = false;
        for b in (0..nb).rev() {
            let mut live = LocalSet::new(nlocals);
            for s in blocks[b].succs.into_iter().flatten() {
                live.union(&live_in[s as usize]);
            }
            for i in (blocks[b].start..blocks[b].end).rev() {
                transfer(&stub.body[i as usize].kind, &mut live);
            }
            if live != live_in[b] {
                live_in[b] = live;
                changed = true;
            }
        }
    }
    let mut out = Vec::new();
    for (b, block) in blocks.iter().enumerate() {
        if !reachable
            .get(block.start as usize)
            .copied()
            .unwrap_or(false)
        {
            continue;
        }
        let mut live = LocalSet::new(nlocals);
        for s in block.succs.into_iter().flatten() {
            live.union(&live_in[s as usize]);
        }
        let _ = b;
        for i in (block.start..block.end).rev() {
            let kind = &stub.body[i as usize].kind;
            if let InstKind::Call {
                kind: CallKind::Call,
                ..
            } = kind
            {
                out.push((i, live.clone()));
            }
            transfer(kind, &mut live);
        }
    }
    out
}

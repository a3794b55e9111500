//! Backward liveness of locals, to find the ones that must survive a call.
//!
//! A backend keeps a local that is live across a `call` in a callee-saved
//! register or a frame slot; every other local can live in a scratch
//! register. This is the only liveness backends need, so it is computed
//! once here.

use crate::flow::{Block, InstFacts};
use lil_syntax::*;

/// The locals of one group of 64 (indices `base..base + 64`), as one
/// word. Liveness is a separate problem for each local, so the analysis
/// solves it for 64 locals at a time: for a stub of at most 64 locals
/// (nearly all), once, with sets that are single words.
pub(crate) struct LocalSet {
    base: u32,
    bits: u64,
}

impl LocalSet {
    // Locals of other groups are not tracked here (nor, in unreachable
    // code, locals that do not exist: no context has them).
    #[inline]
    fn insert(&mut self, k: u32) {
        let b = k.wrapping_sub(self.base);
        if b < 64 {
            self.bits |= 1 << b;
        }
    }
    #[inline]
    fn remove(&mut self, k: u32) {
        let b = k.wrapping_sub(self.base);
        if b < 64 {
            self.bits &= !(1 << b);
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let mut rest = self.bits;
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let b = rest.trailing_zeros();
            rest &= rest - 1;
            Some(self.base + b)
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
// Inlined into the one loop that runs it: no call per instruction.
#[inline(always)]
fn transfer(kind: &InstKind, live: &mut LocalSet) {
    if let InstKind::Locals(_) = kind {
        live.bits = 0;
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
/// the locals live after it (once for each group of 64 locals).
/// `first_call` is the first such instruction at which a local may hold
/// a value (a local live across an earlier call would hold one there),
/// and `nlocals` > 0. `heap` holds the sets when they do not fit on the
/// stack.
pub(crate) fn live_across_calls(
    stub: &Stub,
    cfg: Cfg<'_>,
    nlocals: u32,
    first_call: u32,
    heap: &mut Vec<u64>,
    mut found: impl FnMut(u32, &LocalSet),
) {
    let nb = cfg.blocks.len();
    // Every block's live-in set: on the stack for a small stub.
    let mut inline = [0u64; 16];
    let live_in: &mut [u64] = match inline.get_mut(..nb) {
        Some(sets) => sets,
        None => {
            heap.clear();
            heap.resize(nb, 0);
            heap
        }
    };
    for base in (0..nlocals).step_by(64) {
        if base > 0 {
            live_in.fill(0);
        }
        sweep(stub, &cfg, first_call, base, live_in, &mut found);
    }
}

/// [`live_across_calls`] of the locals `base..base + 64`, with
/// `live_in` (all empty) for every block's live-in set.
fn sweep(
    stub: &Stub,
    cfg: &Cfg<'_>,
    first_call: u32,
    base: u32,
    live_in: &mut [u64],
    found: &mut impl FnMut(u32, &LocalSet),
) {
    let &Cfg {
        blocks,
        insts,
        acyclic,
    } = cfg;
    // One backward pass over the blocks in reverse program order; it is
    // final when every edge goes forward, and nothing before the first
    // call matters then. Otherwise iterate to a fixpoint first and report
    // in a last pass.
    let from = if acyclic { first_call } else { 0 };
    let mut iterate = !acyclic;
    loop {
        let report = !iterate;
        let mut changed = false;
        for (b, block) in blocks.iter().enumerate().rev() {
            if block.end <= from {
                break;
            }
            let mut live = LocalSet { base, bits: 0 };
            for s in block.succs.into_iter().flatten() {
                live.bits |= live_in.get(s as usize).copied().unwrap_or(0);
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
            if let Some(mine) = live_in.get_mut(b)
                && *mine != live.bits
            {
                *mine = live.bits;
                changed = true;
            }
        }
        if report {
            return;
        }
        iterate = changed;
    }
}

#[cfg(test)]
mod tests {
    /// The locals live across a call, by index.
    fn across(text: &str) -> Vec<usize> {
        let checked = crate::assert_valid(text);
        let uses = &checked.summary().locals;
        (0..uses.len())
            .filter(|&k| uses[k].general_across_call || uses[k].float_across_call)
            .collect()
    }

    /// Locals beyond the first 64 are solved in a group of their own,
    /// with and without loops.
    #[test]
    fn locals_beyond_64_live_across_calls() {
        let straight = "entry 0:platform:pint:pint; locals 70;
            l1 = i0; l65 = i0; l66 = i0; l69 = i0;
            out platform::void; call 0x1000;
            l66 = 1; r = l65 + l1; r = r + l66; ret;";
        assert_eq!(across(straight), [1, 65]);
        let looping = "entry 0:platform:pint:pint; locals 70;
            l1 = i0; l65 = i0; l67 = 0; l2 = 0;
            :top; out platform::void; call 0x1000;
            l67 = l67 + 1; jc l67 != l65, top;
            r = l1; ret;";
        assert_eq!(across(looping), [1, 65, 67]);
    }
}

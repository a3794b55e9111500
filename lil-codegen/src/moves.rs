//! Parallel moves: several `dst <- src` copies that must behave as if they
//! happened at once (argument shuffles for `in2out` between conventions,
//! restoring argument registers before a `tailcall`). The resolver orders
//! them so no source is overwritten before it is read, breaking cycles
//! through a scratch register.

use crate::plan::Loc;
use crate::target::{Reg, RegClass};
use lil_syntax::Type;
use smallvec::SmallVec;

/// One copy of a value of type `ty`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    /// Destination.
    pub dst: Loc,
    /// Source.
    pub src: Loc,
    /// The value's type (its class picks the scratch register).
    pub ty: Type,
}

/// Order `moves` into a sequence of plain copies with the same effect.
/// `scratch` gives a register of each class that is not a source or
/// destination of any move.
/// Both lists are inline for the usual handful of arguments.
pub fn sequentialize(moves: &[Move], scratch: impl Fn(RegClass) -> Reg) -> SmallVec<[Move; 8]> {
    let mut pending: SmallVec<[Move; 8]> =
        moves.iter().copied().filter(|m| m.dst != m.src).collect();
    let mut out = SmallVec::with_capacity(pending.len() + 1);
    while !pending.is_empty() {
        // A move whose destination no other pending move still reads.
        let ready = (0..pending.len()).find(|&i| {
            let d = pending[i].dst;
            !pending
                .iter()
                .enumerate()
                .any(|(j, m)| j != i && m.src == d)
        });
        match ready {
            Some(i) => out.push(pending.remove(i)),
            None => {
                // Every destination is still a source: a cycle. Park the
                // value of one destination in the scratch register.
                let m = pending[0];
                let tmp = Loc::Reg(scratch(RegClass::of(m.ty)));
                out.push(Move {
                    dst: tmp,
                    src: m.dst,
                    ty: m.ty,
                });
                for p in pending.iter_mut() {
                    if p.src == m.dst {
                        p.src = tmp;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u8) -> Loc {
        Loc::Reg(Reg::gp(n))
    }

    /// Run moves on a register file and return the result.
    fn run(moves: &[Move], regs: &mut [u64; 32]) {
        for m in moves {
            let v = match m.src {
                Loc::Reg(r) => regs[r.num as usize],
                _ => unreachable!("registers only in this test"),
            };
            if let Loc::Reg(r) = m.dst {
                regs[r.num as usize] = v;
            }
        }
    }

    #[test]
    fn swaps_and_rotations_are_resolved_through_scratch() {
        let mv = |d: u8, s: u8| Move {
            dst: r(d),
            src: r(s),
            ty: Type::Pint,
        };
        for case in [
            vec![mv(0, 1), mv(1, 0)],
            vec![mv(0, 1), mv(1, 2), mv(2, 0)],
            vec![mv(0, 1), mv(2, 0), mv(3, 3), mv(1, 4)],
            vec![mv(5, 0), mv(6, 0), mv(0, 6)],
        ] {
            let mut expect: [u64; 32] = std::array::from_fn(|i| i as u64 * 10);
            let start = expect;
            for m in &case {
                if let (Loc::Reg(d), Loc::Reg(s)) = (m.dst, m.src) {
                    expect[d.num as usize] = start[s.num as usize];
                }
            }
            let seq = sequentialize(&case, |_| Reg::gp(31));
            let mut regs = start;
            run(&seq, &mut regs);
            assert_eq!(&regs[..31], &expect[..31], "{case:?} -> {seq:?}");
        }
    }
}

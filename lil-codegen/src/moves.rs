//! Parallel moves: several `dst <- src` copies that must behave as if they
//! happened at once (argument shuffles for `in2out` between conventions,
//! restoring argument registers before a `tailcall`). The resolver orders
//! them so no source is overwritten before it is read, breaking cycles
//! through a scratch register.

use crate::plan::Loc;
use crate::target::{Reg, RegClass};
use lil_syntax::Type;

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

/// Run `moves` as a sequence of plain copies with the same effect, calling
/// `emit` on each copy in order. `scratch` gives a register of each class
/// that is not a source or destination of any move.
///
/// The moves are ordered in place in `moves` (no list is built or copied:
/// a compilation resolves at least one parallel move per call), which is
/// left in an unspecified order.
pub fn sequentialize<E>(
    moves: &mut [Move],
    scratch: impl Fn(RegClass) -> Reg,
    mut emit: impl FnMut(Move) -> Result<(), E>,
) -> Result<(), E> {
    // The moves that do something, in their order, at the front.
    let mut n = 0;
    for i in 0..moves.len() {
        if moves[i].dst != moves[i].src {
            moves[n] = moves[i];
            n += 1;
        }
    }
    // `moves[done..n]` are pending, still in their original order.
    let mut done = 0;
    while done < n {
        let pending = &moves[done..n];
        // A move whose destination no other pending move still reads.
        let ready = (0..pending.len()).find(|&i| {
            let d = pending[i].dst;
            !pending
                .iter()
                .enumerate()
                .any(|(j, m)| j != i && m.src == d)
        });
        match ready {
            Some(i) => {
                // Out of the pending list, the others keeping their order.
                moves[done..=done + i].rotate_right(1);
                emit(moves[done])?;
                done += 1;
            }
            None => {
                // Every destination is still a source: a cycle. Park the
                // value of one destination in the scratch register.
                let m = moves[done];
                let tmp = Loc::Reg(scratch(RegClass::of(m.ty)));
                emit(Move {
                    dst: tmp,
                    src: m.dst,
                    ty: m.ty,
                })?;
                for p in &mut moves[done..n] {
                    if p.src == m.dst {
                        p.src = tmp;
                    }
                }
            }
        }
    }
    Ok(())
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
            let mut seq = Vec::new();
            sequentialize(
                &mut case.clone(),
                |_| Reg::gp(31),
                |m| {
                    seq.push(m);
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            let mut regs = start;
            run(&seq, &mut regs);
            assert_eq!(&regs[..31], &expect[..31], "{case:?} -> {seq:?}");
        }
    }
}

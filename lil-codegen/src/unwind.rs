//! Unwind information: how to find the caller's frame at every byte of a
//! stub, so that debuggers and profilers can walk through generated code.
//!
//! Both emitters build frames the same way (see [`crate::plan`]): the frame
//! record (saved frame pointer, return address) is pushed first, the frame
//! pointer is pointed at it, then the stack pointer drops to the frame base
//! and the callee-saved registers are stored in their slots. The frame
//! pointer stays at CFA − 16 until the epilogue pops the record. So four
//! states describe every point of the code, and a stub's unwind information
//! is just the offsets where the state changes ([`UnwindRow`]s), plus where
//! the callee-saved registers are kept. Turning that into DWARF call-frame
//! instructions (for GDB, `perf`, a host's own unwinder) is the consumer's
//! business; the states map one-to-one onto CFA rules:
//!
//! | state | CFA | return address | frame pointer | callee-saved |
//! |---|---|---|---|---|
//! | [`FrameState::Entry`] | sp + [`entry_cfa_offset`] | x64: CFA − 8; arm64: in x30 | unchanged | unchanged |
//! | [`FrameState::RecordPushed`] | sp + 16 | CFA − 8 | CFA − 16 | unchanged |
//! | [`FrameState::Framed`] | fp + 16 | CFA − 8 | CFA − 16 | unchanged |
//! | [`FrameState::Saved`] | fp + 16 | CFA − 8 | CFA − 16 | at [`UnwindInfo::saved`] |

use crate::{Reg, Target};

/// Where a stub stands with its frame at some point of its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameState {
    /// As on entry: nothing of the stub's own is on the stack.
    Entry,
    /// The frame record has been pushed; the frame pointer is not set yet.
    RecordPushed,
    /// The frame pointer points at the frame record (CFA − 16); the
    /// callee-saved registers are not all stored yet.
    Framed,
    /// The frame is complete: callee-saved registers are in their slots.
    Saved,
}

/// From `offset` on (until the next row), the code is in `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnwindRow {
    /// Byte offset from the start of the stub's code.
    pub offset: u32,
    /// The state from there on.
    pub state: FrameState,
}

/// A stub's unwind information.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnwindInfo {
    /// State changes in increasing offset order. Before the first row (and
    /// for a stub without rows, everywhere) the state is
    /// [`FrameState::Entry`].
    pub rows: Vec<UnwindRow>,
    /// Callee-saved registers the frame keeps, each with its slot as a byte
    /// offset from the CFA (negative). Valid in [`FrameState::Saved`].
    pub saved: Vec<(Reg, i32)>,
}

impl UnwindInfo {
    /// Record that the code is in `state` from `offset` on. Repeated states
    /// are dropped and a later row at the same offset replaces an earlier
    /// one, so the rows stay minimal.
    #[inline]
    pub fn note(&mut self, offset: u32, state: FrameState) {
        // Notes come in code order, so the state in force is the last row's.
        debug_assert!(self.rows.last().is_none_or(|row| row.offset <= offset));
        if self.rows.last().map_or(FrameState::Entry, |row| row.state) == state {
            return;
        }
        if let Some(last) = self.rows.last_mut()
            && last.offset == offset
        {
            last.state = state;
            let before = self.rows.len().checked_sub(2).map(|k| self.rows[k].state);
            if before.unwrap_or(FrameState::Entry) == state {
                self.rows.pop();
            }
            return;
        }
        self.rows.push(UnwindRow { offset, state });
    }

    /// [`UnwindInfo::note`] of a prologue's first two steps: the frame
    /// record pushed (the code from `pushed` on) and the frame pointer set
    /// (from `framed` on). From code at rest (in [`FrameState::Entry`] or
    /// [`FrameState::Saved`]) with nothing noted from `pushed` on, both
    /// rows are new and are added at once; otherwise they are noted one
    /// by one.
    #[inline]
    pub fn note_frame_record(&mut self, pushed: u32, framed: u32) {
        let at_rest = self.rows.last().is_none_or(|row| {
            row.offset < pushed && matches!(row.state, FrameState::Entry | FrameState::Saved)
        });
        if at_rest && pushed < framed {
            self.rows.extend_from_slice(&[
                UnwindRow {
                    offset: pushed,
                    state: FrameState::RecordPushed,
                },
                UnwindRow {
                    offset: framed,
                    state: FrameState::Framed,
                },
            ]);
        } else {
            self.note(pushed, FrameState::RecordPushed);
            self.note(framed, FrameState::Framed);
        }
    }

    /// The state in force at `offset`.
    pub fn state_at(&self, offset: u32) -> FrameState {
        self.rows
            .iter()
            .take_while(|row| row.offset <= offset)
            .last()
            .map_or(FrameState::Entry, |row| row.state)
    }

    /// Whether the stub never builds a frame (its code is all in
    /// [`FrameState::Entry`]).
    pub fn is_frameless(&self) -> bool {
        self.rows.is_empty()
    }
}

/// How far above the stack pointer the CFA is on entry: the return address
/// the call pushed on x86-64, nothing on AArch64 (it is in x30).
pub fn entry_cfa_offset(target: Target) -> u32 {
    match target {
        Target::X64 => 8,
        Target::Arm64 => 0,
    }
}

/// The DWARF register number of `reg` on `target` (System V psABI for
/// x86-64, AAPCS64 DWARF for AArch64): what unwind tables and debuggers
/// call it.
pub fn dwarf_register(target: Target, reg: Reg) -> u16 {
    use crate::RegClass;
    match (target, reg.class) {
        // Hardware order rax rcx rdx rbx rsp rbp rsi rdi; DWARF order
        // rax rdx rcx rbx rsi rdi rbp rsp; r8-r15 agree.
        (Target::X64, RegClass::General) => match reg.num {
            0 => 0,
            1 => 2,
            2 => 1,
            3 => 3,
            4 => 7,
            5 => 6,
            6 => 4,
            7 => 5,
            n => u16::from(n),
        },
        (Target::X64, RegClass::Float) => 17 + u16::from(reg.num),
        (Target::Arm64, RegClass::General) => u16::from(reg.num),
        (Target::Arm64, RegClass::Float) => 64 + u16::from(reg.num),
    }
}

/// DWARF numbers of the stack pointer, frame pointer and return address
/// (column) on `target`.
pub fn dwarf_sp_fp_ra(target: Target) -> (u16, u16, u16) {
    match target {
        Target::X64 => (7, 6, 16),
        Target::Arm64 => (31, 29, 30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `note_frame_record` leaves the rows two `note`s leave, from every
    /// state and offset before it (the rows-at-once case and the others).
    #[test]
    fn frame_record_notes_as_two_notes() {
        let states = [
            FrameState::Entry,
            FrameState::RecordPushed,
            FrameState::Framed,
            FrameState::Saved,
        ];
        let mut befores: Vec<Vec<(u32, FrameState)>> = vec![vec![]];
        for last in states {
            for at in [0, 3, 4, 5, 8] {
                befores.push(vec![(at, last)]);
                befores.push(vec![(0, FrameState::Framed), (at.max(1), last)]);
            }
        }
        for before in befores {
            for (pushed, framed) in [(4, 8), (5, 8), (4, 4), (8, 9)] {
                // Notes come in code order.
                if before.last().is_some_and(|&(at, _)| at > pushed) {
                    continue;
                }
                let mut want = UnwindInfo::default();
                for &(at, state) in &before {
                    want.note(at, state);
                }
                let mut got = want.clone();
                want.note(pushed, FrameState::RecordPushed);
                want.note(framed, FrameState::Framed);
                got.note_frame_record(pushed, framed);
                assert_eq!(got, want, "{before:?} {pushed} {framed}");
            }
        }
    }

    #[test]
    fn rows_stay_minimal() {
        let mut u = UnwindInfo::default();
        u.note(0, FrameState::Entry);
        assert!(u.is_frameless());
        u.note(4, FrameState::RecordPushed);
        u.note(5, FrameState::Framed);
        u.note(5, FrameState::Saved);
        u.note(9, FrameState::Saved);
        u.note(20, FrameState::Entry);
        assert_eq!(
            u.rows,
            vec![
                UnwindRow {
                    offset: 4,
                    state: FrameState::RecordPushed
                },
                UnwindRow {
                    offset: 5,
                    state: FrameState::Saved
                },
                UnwindRow {
                    offset: 20,
                    state: FrameState::Entry
                },
            ]
        );
        assert_eq!(u.state_at(3), FrameState::Entry);
        assert_eq!(u.state_at(4), FrameState::RecordPushed);
        assert_eq!(u.state_at(19), FrameState::Saved);
        assert_eq!(u.state_at(100), FrameState::Entry);
        // A row replaced by the state before it disappears.
        u.note(30, FrameState::Saved);
        u.note(30, FrameState::Entry);
        assert_eq!(u.rows.len(), 3);
    }

    #[test]
    fn dwarf_numbers_follow_the_abis() {
        assert_eq!(dwarf_register(Target::X64, Reg::gp(3)), 3); // rbx
        assert_eq!(dwarf_register(Target::X64, Reg::gp(5)), 6); // rbp
        assert_eq!(dwarf_register(Target::X64, Reg::gp(12)), 12);
        assert_eq!(dwarf_register(Target::Arm64, Reg::gp(19)), 19);
        assert_eq!(dwarf_register(Target::Arm64, Reg::fp(8)), 72);
    }
}

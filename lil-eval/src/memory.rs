//! The interpreter's byte-addressed, little-endian memory.
//!
//! Memory is a set of disjoint regions, each a `Vec<u8>` at a fixed guest
//! address: data from [`Machine::alloc`](lil_machine::Machine::alloc), the
//! guest stack (`alloc` areas, M2N frames, frame records), and one read-only
//! region per installed stub (its `print` texts). An access must lie wholly
//! inside one region, otherwise it fails with
//! [`MachineError::BadAccess`]: the interpreter never reads or writes
//! anything the machine did not map, so an out-of-bounds stub is an error,
//! not undefined behaviour.

use std::collections::BTreeMap;

use lil_machine::MachineError;

/// One mapped region.
#[derive(Debug)]
struct Region {
    data: Vec<u8>,
    writable: bool,
}

/// All mapped regions, by start address.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    regions: BTreeMap<u64, Region>,
}

impl Memory {
    /// Map `len` zeroed bytes at `base`. The caller keeps regions disjoint.
    pub(crate) fn map(&mut self, base: u64, len: usize, writable: bool) {
        debug_assert!(
            self.regions
                .range(..base.saturating_add(len as u64).max(base + 1))
                .next_back()
                .is_none_or(|(b, r)| b + r.data.len() as u64 <= base),
            "regions overlap at {base:#x}"
        );
        self.regions.insert(
            base,
            Region {
                data: vec![0; len],
                writable,
            },
        );
    }

    /// Fill bytes of a region at `addr`, writable or not (installing texts).
    pub(crate) fn initialize(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        let (region, offset) = self.find(addr, data.len())?;
        region.data[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// The region holding `[addr, addr + len)` and the offset of `addr` in it.
    fn find(&mut self, addr: u64, len: usize) -> Result<(&mut Region, usize), MachineError> {
        let bad = MachineError::BadAccess { addr, len };
        let end = addr
            .checked_add(len as u64)
            .ok_or(MachineError::BadAccess { addr, len })?;
        let (base, region) = self.regions.range_mut(..=addr).next_back().ok_or(bad)?;
        if end > base + region.data.len() as u64 {
            return Err(MachineError::BadAccess { addr, len });
        }
        let offset = (addr - base) as usize;
        Ok((region, offset))
    }

    /// Read `buf.len()` bytes at `addr`. An empty read always succeeds.
    pub(crate) fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), MachineError> {
        if buf.is_empty() {
            return Ok(());
        }
        let (region, offset) = self.find(addr, buf.len())?;
        buf.copy_from_slice(&region.data[offset..offset + buf.len()]);
        Ok(())
    }

    /// Write `data` at `addr`; fails on read-only regions.
    pub(crate) fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MachineError> {
        if data.is_empty() {
            return Ok(());
        }
        let (region, offset) = self.find(addr, data.len())?;
        if !region.writable {
            return Err(MachineError::BadAccess {
                addr,
                len: data.len(),
            });
        }
        region.data[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// Read a little-endian unsigned value of `size` bytes (1 to 8).
    pub(crate) fn read_uint(&mut self, addr: u64, size: u32) -> Result<u64, MachineError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b[..size as usize])?;
        Ok(u64::from_le_bytes(b))
    }

    /// Write the low `size` bytes (1 to 8) of `value`, little-endian.
    pub(crate) fn write_uint(
        &mut self,
        addr: u64,
        size: u32,
        value: u64,
    ) -> Result<(), MachineError> {
        self.write(addr, &value.to_le_bytes()[..size as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_stay_inside_one_region() {
        let mut m = Memory::default();
        m.map(0x1000, 16, true);
        m.map(0x1010, 16, true);
        m.map(0x2000, 8, false);
        m.write_uint(0x1008, 8, 0x1122_3344_5566_7788).unwrap();
        assert_eq!(m.read_uint(0x1008, 2).unwrap(), 0x7788);
        assert_eq!(m.read_uint(0x100c, 4).unwrap(), 0x1122_3344);
        // Straddling two adjacent regions is refused: they are separate objects.
        assert!(m.read_uint(0x100c, 8).is_err());
        assert!(m.read_uint(0xfff, 1).is_err());
        assert!(m.read_uint(0x1020, 1).is_err());
        assert!(m.read_uint(u64::MAX - 3, 8).is_err());
        // Read-only regions are readable, not writable.
        m.initialize(0x2000, b"text").unwrap();
        assert_eq!(
            m.read_uint(0x2000, 4).unwrap(),
            u64::from(u32::from_le_bytes(*b"text"))
        );
        assert!(m.write_uint(0x2000, 1, 0).is_err());
        // Empty accesses succeed anywhere.
        assert!(m.read(0x9999, &mut []).is_ok());
    }
}

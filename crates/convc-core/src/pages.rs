//! Large image buffers on transparent huge pages, as numpy allocates its arrays.
//!
//! A 4096 x 4096 `f32` image spans 16384 pages of 4 KiB, and a filter walks several
//! of its rows at once, each crossing into a new page every 1024 pixels; with 2 MiB
//! pages the TLB covers the whole working set. Linux backs memory with huge pages
//! where the process asks with `madvise(MADV_HUGEPAGE)` before first touching it
//! (the advice the kernel's default `madvise` mode waits for). numpy asks for every
//! array of 4 MiB or more, so OpenCV's inputs in our comparisons had huge pages and
//! ours did not. Elsewhere, or where the kernel declines, nothing changes: the advice
//! never affects what the memory holds.
#![allow(unsafe_code)]

use crate::Element;
use crate::error::{ConvError, Result};

/// Buffers from this many bytes on are advised: numpy's threshold.
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// A vector of `len` zeros; at [`HUGE_PAGE_THRESHOLD`] bytes and more its pages
/// were advised before anything touched them. A size the allocator refuses (or
/// that exceeds `isize::MAX` bytes) is an error naming `what`, not an abort.
pub(crate) fn zeroed<T: Element>(len: usize, what: impl FnOnce() -> String) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| ConvError::OutOfMemory {
            what: what(),
            bytes: len.saturating_mul(std::mem::size_of::<T>()),
        })?;
    if len.saturating_mul(std::mem::size_of::<T>()) >= HUGE_PAGE_THRESHOLD {
        advise_huge_pages(&v);
    }
    v.resize(len, T::ZERO);
    Ok(v)
}

/// Asks for huge pages under the whole 4 KiB pages of `v`'s allocation.
#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &Vec<T>) {
    const PAGE: usize = 4096;
    let start = v.as_ptr() as usize;
    let end = start + v.capacity() * std::mem::size_of::<T>();
    let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
    if last > first {
        // SAFETY: [first, last) lies inside `v`'s allocation, which this function
        // borrows; MADV_HUGEPAGE changes only how the kernel backs those pages, never
        // their contents or the mapping, and an error return is only declined advice.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages<T>(_: &Vec<T>) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping that holds `addr`, from /proc/self/smaps.
    fn vm_flags(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line
                .split_whitespace()
                .next()
                .and_then(|r| r.split_once('-'));
            let parse = |r: &str| usize::from_str_radix(r, 16).ok();
            if let Some((Some(lo), Some(hi))) = range.map(|(lo, hi)| (parse(lo), parse(hi))) {
                inside = (lo..hi).contains(&addr);
                continue;
            }
            if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.to_string();
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn large_buffers_are_advised_and_zero() {
        let v = zeroed::<f32>(2048 * 2048, String::new).unwrap();
        assert!(v.iter().all(|&x| x == 0.0));
        // The kernel records the advice as the `hg` flag of the pages' mapping, where
        // it was built with transparent huge pages (it refuses the advice otherwise).
        let thp = std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists();
        let middle = v.as_ptr() as usize + v.len() * 2;
        let flags = vm_flags(middle);
        assert_eq!(flags.split_whitespace().any(|f| f == "hg"), thp, "{flags}");
    }
}

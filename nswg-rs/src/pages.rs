//! Huge-page advice for the large, randomly accessed buffers (vectors, codes, links).
//!
//! A graph search reads a few hundred rows scattered over the whole store; with 4 KiB pages nearly
//! every row is a TLB miss and a page walk. On Linux with transparent huge pages in `madvise` mode
//! (the common default), memory is backed by 2 MiB pages only where the program asks for it.

/// Asks the kernel to back the spare and used capacity of `v` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)` on the 2 MiB-aligned part of the allocation). Only pages not yet
/// touched are affected, so call it right after the buffer is allocated. A hint: failures and
/// other platforms are ignored, and buffers under 2 MiB are left alone.
pub(crate) fn advise_huge<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        let start = v.as_ptr() as usize;
        let lo = start.next_multiple_of(HUGE);
        let hi = (start + bytes) / HUGE * HUGE;
        if hi > lo {
            // SAFETY: `[lo, hi)` lies inside `v`'s live allocation; MADV_HUGEPAGE changes only how
            // the kernel backs those pages, never their contents or the mapping's validity.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Makes room in `v` for `total` elements in all (exactly, no doubling), then [`advise_huge`] if
/// that moved `v` to a new allocation (whose pages are untouched beyond the copied part).
///
/// # Errors
/// The allocator's refusal (nothing changes).
pub(crate) fn reserve_advised<T>(
    v: &mut Vec<T>,
    total: usize,
) -> Result<(), std::collections::TryReserveError> {
    let cap = v.capacity();
    v.try_reserve_exact(total.saturating_sub(v.len()))?;
    if v.capacity() != cap {
        advise_huge(v);
    }
    Ok(())
}

/// Makes room in `v` for `total` elements in all, growing as `Vec` does (at least doubling, so
/// repeated small appends stay amortised O(1)), then [`advise_huge`] if that moved `v` to a new
/// allocation. For buffers grown by appends without a prior [`reserve_advised`].
pub(crate) fn grow_advised<T>(v: &mut Vec<T>, total: usize) {
    if total > v.capacity() {
        v.reserve(total - v.len());
        advise_huge(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_by_small_appends_reallocates_a_logarithmic_number_of_times() {
        let mut v: Vec<u32> = Vec::new();
        let mut moves = 0;
        for total in 1..=1_000_000usize {
            let cap = v.capacity();
            grow_advised(&mut v, total);
            v.push(total as u32);
            moves += usize::from(v.capacity() != cap);
        }
        assert!(
            moves <= 30,
            "{moves} reallocations for 1e6 one-element appends"
        );
        let mut w: Vec<u32> = Vec::new();
        reserve_advised(&mut w, 1000).unwrap();
        assert_eq!(w.capacity(), 1000);
    }

    #[cfg(target_os = "linux")]
    /// The `AnonHugePages` (KiB) of the mapping of this process that contains `addr`.
    fn huge_kib_at(addr: usize) -> Option<usize> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = (a..b).contains(&addr);
                    continue;
                }
            }
            if inside {
                if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                    return rest.trim().trim_end_matches("kB").trim().parse().ok();
                }
            }
        }
        None
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn advised_buffers_get_huge_pages_where_the_kernel_offers_them() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!("transparent huge pages are off here ({mode:?}): nothing to check");
            return;
        }
        let n = (16 << 20) / std::mem::size_of::<u64>();
        let mut v: Vec<u64> = Vec::new();
        reserve_advised(&mut v, n).unwrap();
        v.extend((0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9)));
        let huge = huge_kib_at(v.as_ptr() as usize + (8 << 20)).unwrap_or(0);
        // 16 MiB holds at least seven aligned 2 MiB pages; allow for a kernel short of free ones.
        assert!(
            huge >= 2048,
            "no huge pages behind an advised 16 MiB buffer ({huge} KiB)"
        );
        assert_eq!(v[n - 1], (n as u64 - 1).wrapping_mul(0x9E37_79B9));
    }
}

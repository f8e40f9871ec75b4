//! What the fuzz targets share: an allocator that keeps the peak of the
//! bytes allocated, so that a target can check that decoding some input
//! never allocates far more than the input could justify (a length prefix
//! claiming 4 GiB must not allocate 4 GiB), and helpers to compare readers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most bytes that were allocated
/// at once while it ran, beyond what was allocated before.
pub fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = f();
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

/// Panics if `peak` bytes is more than `bound`, naming what allocated them.
pub fn assert_allocation_within(peak: usize, bound: usize, what: &str, input_len: usize) {
    assert!(
        peak <= bound,
        "{what} allocated {peak} bytes at once for {input_len} bytes of input (bound {bound})"
    );
}

/// What a decoder may allocate for `input_len` bytes: a small constant, a
/// generous multiple of the input (a decoded `Vec<String>` may reserve 24
/// bytes for each 1-byte element it announces), and `extra` (a frame
/// buffer of up to the maximum frame).
pub fn allocation_bound(input_len: usize, extra: usize) -> usize {
    (1 << 20) + 64 * input_len + extra
}

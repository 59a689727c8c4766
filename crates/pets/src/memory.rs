//! Gives the memory freed after a burst back to the system.
//!
//! Under load, every connection holds read and write buffers; when the
//! burst ends they are freed, but glibc's allocator keeps the freed pages in
//! its heap rather than returning them, so resident memory stays at the
//! burst's high-water mark (the benchmark measured 23 MiB after 256
//! connections, when the live heap was under 9 MB). Once a second this asks
//! glibc to hand back what is free (`malloc_trim`), which costs well under a
//! millisecond on a heap this size. Elsewhere than glibc it does nothing.

use std::time::Duration;

/// How often freed memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Runs until the runtime stops.
pub async fn return_freed_memory() {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        trim();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free pages of the allocator's own
    // heap; it touches no memory the program holds.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large block freed is no longer resident once trimmed (glibc only).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_goes_back_to_the_system() {
        let resident = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap()
        };
        // Many small blocks (as connection buffers are), under the mmap
        // threshold, so they live in the heap; every other one kept, so
        // the heap cannot simply shrink from its top.
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 8 * 1024]).collect();
        let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
        drop(blocks);
        let before = resident();
        trim();
        let after = resident();
        assert!(
            after + 16 * 1024 < before,
            "trim handed back at least 16 MiB of the 32 MiB freed: {before} kB -> {after} kB"
        );
        drop(kept);
    }
}

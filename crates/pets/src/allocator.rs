//! The allocator, and memory handed back after a burst.
//!
//! pets allocates with mimalloc rather than glibc's malloc: every page and
//! vote allocates and frees many small blocks (headers, the rendered page,
//! the log line), and `docs/PERFORMANCE.md` measures what glibc's allocator
//! cost.
//!
//! Left to its defaults on Linux, mimalloc commits its whole arena as it
//! touches it and keeps freed pages resident, so memory after a burst of
//! connections stays at its high-water mark. [`configure_allocator`], run before `main` (before the first
//! allocation reserves the first arena), makes it commit arena memory on
//! demand and give freed pages back after a short delay; and since mimalloc
//! does that only as it is next used, [`return_freed_memory`] nudges it once
//! a second, so an idle pets after a burst goes back to its resting size
//! (the benchmark's memory row).

use std::time::Duration;

use libmimalloc_sys as ffi;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long a freed page stays resident before it goes back to the system.
pub const PURGE_DELAY: Duration = Duration::from_millis(100);

/// mimalloc 3's option numbers (`mi_option_e` in its `mimalloc.h`), which
/// the bindings do not name.
const ARENA_EAGER_COMMIT: ffi::mi_option_t = 4;
const PURGE_DELAY_MS: ffi::mi_option_t = 15;
const ARENA_PURGE_MULT: ffi::mi_option_t = 25;

/// Sets the allocator's options. `main` runs it before the first
/// allocation, from the executable's initializers.
pub fn configure_allocator() {
    // SAFETY: mi_option_set only stores an option's value.
    unsafe {
        ffi::mi_option_set(ARENA_EAGER_COMMIT, 0);
        ffi::mi_option_set(PURGE_DELAY_MS, PURGE_DELAY.as_millis() as _);
        ffi::mi_option_set(ARENA_PURGE_MULT, 1);
    }
}

/// How often freed memory is handed back.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// Runs until the runtime stops.
pub async fn return_freed_memory() {
    let mut tick = tokio::time::interval(COLLECT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        collect();
    }
}

/// Gives pages freed longer than [`PURGE_DELAY`] ago back to the system.
pub fn collect() {
    // SAFETY: mi_collect only releases memory the allocator holds free.
    unsafe { ffi::mi_collect(false) };
}

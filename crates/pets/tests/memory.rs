//! The allocator gives memory back after a burst. A test binary of its own,
//! since it reads the whole process's resident memory: other tests running
//! beside it would move the figure.

use pets::allocator::{collect, configure_allocator, PURGE_DELAY};

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
}

/// Memory freed after a burst is no longer resident soon after.
#[test]
fn freed_memory_goes_back_to_the_system() {
    configure_allocator();
    // Many small blocks (as connection buffers are), every other one kept,
    // so the memory cannot simply be given back from its top.
    let mut blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 8 * 1024]).collect();
    let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
    let before = resident_kib();
    drop(blocks);
    std::thread::sleep(PURGE_DELAY * 2);
    collect();
    let after = resident_kib();
    assert_eq!(kept.len(), 64);
    assert!(
        after + 16 * 1024 < before,
        "32 MiB freed, but resident memory went only from {before} KiB to {after} KiB"
    );
}

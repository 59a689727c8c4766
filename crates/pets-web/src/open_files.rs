//! The process's limit on open files. A server holds a descriptor per
//! connection, so pets raises its soft limit to its hard one at start (and
//! sizes its ports' caps to fit, in `pets::serve`); the benchmark raises its
//! own, which pets, wrk and nginx inherit, as far as the machine allows.

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the soft limit now in force.
pub fn raise_open_files_limit() -> u64 {
    raise_open_files_to(0)
}

/// Raises the limit on open files to `wanted`, the hard limit too when it
/// is lower (which takes `CAP_SYS_RESOURCE`), else the soft limit as far as
/// the hard one allows, never lowering it; returns the soft limit now in
/// force. With `wanted` 0, the soft limit goes to the hard one. Children
/// inherit it: the benchmark raises its own before it starts pets, wrk and
/// nginx.
pub fn raise_open_files_to(wanted: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if wanted > limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: wanted,
                rlim_max: wanted,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return wanted;
            }
        }
        let target = match wanted {
            0 => limit.rlim_max,
            n => n.min(limit.rlim_max),
        };
        if limit.rlim_cur < target {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = target;
            }
        }
    }
    limit.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_never_lowers_the_limit_and_returns_the_one_in_force() {
        let before = raise_open_files_to(0);
        assert!(raise_open_files_to(1) >= before, "asking for 1 lowered it");
        assert!(raise_open_files_limit() >= before);
    }
}

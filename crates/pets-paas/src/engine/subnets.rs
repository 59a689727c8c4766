//! Addresses for instance networks: a /28 each (14 addresses, plenty for
//! one container) from one pool, `PAAS_SUBNETS` (10.213.0.0/16: 4,096 of
//! them), instead of the engine's default pools, which hold about thirty
//! networks in all. A /28 is picked at random; if the engine already has
//! it, another is tried.

use ipnet::Ipv4Net;
use rand::Rng;

/// The size of each instance's network.
pub const PREFIX: u8 = 28;

/// A random /28 inside `pool`.
pub fn pick(pool: Ipv4Net) -> Ipv4Net {
    let count = 1u32 << (PREFIX - pool.prefix_len());
    let index = rand::rng().random_range(0..count);
    let base = u32::from(pool.network()) + index * (1 << (32 - PREFIX));
    Ipv4Net::new(base.into(), PREFIX).expect("a /28 is a valid prefix")
}

/// Whether the engine refused a network because its subnet is taken.
pub fn taken(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("overlap") || message.contains("already")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_stay_inside_the_pool_and_vary() {
        let pool: Ipv4Net = "10.213.0.0/16".parse().unwrap();
        let picks: std::collections::HashSet<Ipv4Net> = (0..50).map(|_| pick(pool)).collect();
        assert!(picks.len() > 40, "random");
        for net in picks {
            assert_eq!(net.prefix_len(), 28);
            assert!(pool.contains(&net.network()) && pool.contains(&net.broadcast()));
            assert_eq!(net.network(), net.trunc().network(), "aligned");
        }
        let small: Ipv4Net = "10.9.9.0/28".parse().unwrap();
        assert_eq!(pick(small), small);
    }

    #[test]
    fn a_taken_subnet_is_recognised() {
        assert!(taken("Pool overlaps with other one on this address space"));
        assert!(!taken("no such image"));
    }
}

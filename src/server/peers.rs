//! Per-client fairness: how many connections each peer IP address holds, against a cap.
//!
//! Invariants: a peer's count is the number of live [`PeerSlot`]s for its address, and
//! an address with none has no entry, so the map never holds more entries than there
//! are open connections. IPv4-mapped IPv6 addresses count as their IPv4 address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The open connections per peer address.
#[derive(Debug)]
pub(crate) struct Peers {
    /// The most connections one address may hold; at least 1.
    cap: usize,
    /// Open connections by address; held only to count, never across an await.
    open: Mutex<HashMap<IpAddr, usize>>,
    /// Connections refused for being over the cap since the server started.
    refused: AtomicU64,
}

/// One connection's place in its peer's count; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    /// Counts with a cap of `cap` connections per address (at least 1).
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Peers {
            cap: cap.max(1),
            open: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        })
    }

    /// A place for a new connection from `ip`, or `None` (counted) when that address
    /// already holds the cap.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        let ip = ip.to_canonical();
        {
            // A poisoned map still holds valid counts: a panic cannot happen mid-update.
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(ip).or_insert(0);
            if *n >= self.cap {
                drop(open);
                self.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            *n += 1;
        }
        Some(PeerSlot {
            peers: Arc::clone(self),
            ip,
        })
    }

    /// The connections refused for being over the cap so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The cap per address.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self
            .peers
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_the_cap_and_a_dropped_slot_frees_its_place() {
        let peers = Peers::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = peers.admit(a).unwrap();
        let _second = peers.admit(a).unwrap();
        assert!(peers.admit(a).is_none());
        assert_eq!(peers.refused(), 1);
        let _other = peers.admit(b).expect("another address has its own count");
        drop(first);
        assert!(peers.admit(a).is_some());
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_their_ipv4_address() {
        let peers = Peers::new(1);
        let _v4 = peers.admit("10.0.0.1".parse().unwrap()).unwrap();
        assert!(peers.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn addresses_without_connections_leave_the_map() {
        let peers = Peers::new(3);
        drop(peers.admit("10.0.0.1".parse().unwrap()));
        assert!(peers.open.lock().unwrap().is_empty());
    }
}

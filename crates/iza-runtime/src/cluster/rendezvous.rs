//! Which node should own which check: rendezvous (highest random weight) hashing with bounded
//! load. Every node computes the same answer from the same live nodes and keys, with no
//! coordination: each key ranks the nodes by a hash of (node, key); keys are visited in a fixed
//! order (by their own hash) and each goes to its highest-ranked node that still has room, the
//! room being `ceil(keys / nodes)`. The bound makes the shares equal (within one key); the
//! ranking makes a join or a leave move few keys (about the newcomer's share, or the leaver's,
//! plus a few percent displaced by the bound; the unit tests measure it).
//!
//! The hash is FNV-1a finished by splitmix64: stable across processes, builds and platforms (the
//! standard library's hashers promise neither).

use std::collections::HashMap;

fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            // A separator byte no id contains, so ("ab", "c") and ("a", "bc") differ.
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The weight of `node` for `key` (higher wins).
pub fn score(node: &str, key: &str) -> u64 {
    mix(fnv1a(&[node, key]))
}

/// Assigns every key to one of `nodes` (see the module documentation); empty when there is no
/// node. The result maps each key to its node.
pub fn assign<'n>(nodes: &[&'n str], keys: &[&str]) -> HashMap<String, &'n str> {
    let mut owners = HashMap::with_capacity(keys.len());
    if nodes.is_empty() {
        return owners;
    }
    let room = keys.len().div_ceil(nodes.len());
    let mut load = vec![0usize; nodes.len()];
    let mut order: Vec<&str> = keys.to_vec();
    order.sort_by_key(|key| (mix(fnv1a(&[key])), *key));
    order.dedup();
    let mut ranked: Vec<(u64, &str, usize)> = Vec::with_capacity(nodes.len());
    for key in order {
        ranked.clear();
        ranked.extend(
            nodes
                .iter()
                .enumerate()
                .map(|(index, node)| (score(node, key), *node, index)),
        );
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        if let Some(&(_, node, index)) = ranked.iter().find(|(_, _, index)| load[*index] < room) {
            load[index] += 1;
            owners.insert(key.to_owned(), node);
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("service-{i}")).collect()
    }

    fn counts<'n>(owners: &HashMap<String, &'n str>, nodes: &[&'n str]) -> Vec<usize> {
        nodes
            .iter()
            .map(|node| owners.values().filter(|owner| *owner == node).count())
            .collect()
    }

    fn moved(before: &HashMap<String, &str>, after: &HashMap<String, &str>) -> usize {
        before
            .iter()
            .filter(|(key, node)| after[*key] != **node)
            .count()
    }

    #[test]
    fn every_key_has_one_owner_and_the_shares_are_equal() {
        let keys = keys(300);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let nodes = ["node-a", "node-b", "node-c"];
        let owners = assign(&nodes, &refs);
        assert_eq!(owners.len(), 300);
        assert_eq!(counts(&owners, &nodes), vec![100, 100, 100]);
        // Any node computes the same, whatever the order it lists the nodes and keys in.
        let mut reversed = refs.clone();
        reversed.reverse();
        assert_eq!(assign(&["node-c", "node-a", "node-b"], &reversed), owners);
    }

    #[test]
    fn a_join_or_a_leave_moves_little_more_than_its_share() {
        let keys = keys(300);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let three = assign(&["node-a", "node-b", "node-c"], &refs);
        let four = assign(&["node-a", "node-b", "node-c", "node-d"], &refs);
        assert_eq!(
            counts(&four, &["node-a", "node-b", "node-c", "node-d"]),
            vec![75, 75, 75, 75]
        );
        // The newcomer's share is 75: what moves is that and a few displaced by the bound.
        let join = moved(&three, &four);
        assert!((75..=95).contains(&join), "{join} moved on a join");
        let two = assign(&["node-a", "node-b"], &refs);
        let leave = moved(&three, &two);
        assert!((100..=120).contains(&leave), "{leave} moved on a leave");
        // The keys of the nodes that stay mostly stay.
        let kept = three
            .iter()
            .filter(|(key, node)| **node != "node-c" && two[*key] == **node)
            .count();
        assert!(kept >= 180, "{kept} of 200 kept");
    }

    #[test]
    fn no_node_holds_more_than_its_rounded_up_share_and_no_node_means_no_owner() {
        let keys = keys(10);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let nodes = ["x", "y", "z"];
        let mut shares = counts(&assign(&nodes, &refs), &nodes);
        shares.sort_unstable();
        assert_eq!(shares.iter().sum::<usize>(), 10);
        assert!(shares[2] <= 4, "{shares:?}");
        assert!(assign(&[], &refs).is_empty());
    }
}

//! Reads a compose service's `ports` into the host ports it publishes, in every syntax of
//! the Compose specification: the short form `[[IP:](HOST|RANGE):](PORT|RANGE)[/PROTOCOL]`
//! (`"3000"`, `"8080:80"`, `"127.0.0.1::80"`, `"[::1]:6001:6001"`, `"9090-9091:8080-8081/udp"`),
//! bare integers, and the long form `{target, published, host_ip, protocol, mode}`.
//!
//! Only the published (host) side becomes a manifest port: it is what can conflict on the
//! machine. A container port that is not published, an ephemeral host port, the binding
//! address and a non-TCP protocol are noted.

use serde_json::Value;

use super::{Notes, describe};
use crate::manifest::raw::{RawPort, parse_port_spec};

/// The host ports a service publishes, in order, without duplicates; overlapping ranges
/// of one service are merged.
pub(super) fn published(service: &str, ports: &Value, notes: &mut Notes) -> Vec<RawPort> {
    let Value::Array(entries) = ports else {
        notes.service(
            service,
            format!("`ports` is {}, not a list; not mapped", describe(ports)),
        );
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries {
        let port = match entry {
            Value::String(text) => short_form(service, text, notes),
            Value::Number(n) => {
                match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
                    Some(p) => {
                        notes.service(service, format!("port {p} is a container port without a published host port; not mapped"
                    ));
                        None
                    }
                    None => {
                        notes.service(
                            service,
                            format!("port `{n}` is not a port number; not mapped"),
                        );
                        None
                    }
                }
            }
            Value::Object(map) => long_form(service, map, notes),
            other => {
                notes.service(
                    service,
                    format!("port {} is not a port; not mapped", describe(other)),
                );
                None
            }
        };
        found.extend(port);
    }
    normalize(found)
}

/// The short form, as a string.
fn short_form(service: &str, text: &str, notes: &mut Notes) -> Option<RawPort> {
    let spec = text.trim();
    let invalid = |notes: &mut Notes| {
        notes.service(
            service,
            format!("port `{text}` is not in the compose port syntax; not mapped"),
        );
    };
    let (spec, protocol) = match spec.rsplit_once('/') {
        Some((spec, protocol)) => (spec, Some(protocol)),
        None => (spec, None),
    };
    let Some((address, host, container)) = split_short_form(spec) else {
        invalid(notes);
        return None;
    };
    let Ok(container) = parse_port_spec(container) else {
        invalid(notes);
        return None;
    };
    let Some(host) = host.filter(|h| !h.trim().is_empty()) else {
        notes.service(
            service,
            format!("port `{text}` has no published host port (docker picks one); not mapped"),
        );
        return None;
    };
    let Ok(host) = parse_port_spec(host) else {
        invalid(notes);
        return None;
    };
    publish(
        service,
        &format!("`{text}`"),
        Published {
            host,
            container,
            address,
            protocol,
        },
        notes,
    )
}

/// Splits `[IP:][HOST:]CONTAINER` (the protocol already removed) into its parts; an IPv6
/// address is written in brackets (`[::1]:6001:6001`), or bare before the last two colons.
fn split_short_form(spec: &str) -> Option<(Option<&str>, Option<&str>, &str)> {
    if let Some(bracketed) = spec.strip_prefix('[') {
        let (address, rest) = bracketed.split_once(']')?;
        let (host, container) = rest.strip_prefix(':')?.split_once(':')?;
        return Some((Some(address), Some(host), container));
    }
    let mut parts = spec.rsplitn(3, ':');
    let container = parts.next()?;
    let host = parts.next();
    let address = parts.next();
    Some((address, host, container))
}

/// The long form, as a mapping.
fn long_form(
    service: &str,
    map: &serde_json::Map<String, Value>,
    notes: &mut Notes,
) -> Option<RawPort> {
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "target" | "published" | "host_ip" | "protocol" | "mode"
        ) {
            notes.service(service, format!("port key `{key}` is not mapped"));
        }
    }
    let what = match map.get("target") {
        Some(target) => format!("with target {}", describe(target)),
        None => "without a target".to_owned(),
    };
    let invalid = |notes: &mut Notes, why: &str| {
        notes.service(service, format!("port {what} {why}; not mapped"));
    };
    let container = match map.get("target").map(port_value) {
        Some(Some(Ok(container))) => container,
        _ => {
            invalid(notes, "has no valid `target` (container port)");
            return None;
        }
    };
    let host = match map.get("published").and_then(port_value) {
        None => {
            notes.service(
                service,
                format!("port {what} has no published host port; not mapped"),
            );
            return None;
        }
        Some(Err(())) => {
            invalid(notes, "has a `published` that is not a port or range");
            return None;
        }
        Some(Ok(host)) => host,
    };
    let address = map.get("host_ip").and_then(Value::as_str);
    let protocol = map.get("protocol").and_then(Value::as_str);
    publish(
        service,
        &what,
        Published {
            host,
            container,
            address,
            protocol,
        },
        notes,
    )
}

/// A port or range given as a number or a string; `None` when absent or empty.
fn port_value(value: &Value) -> Option<Result<RawPort, ()>> {
    match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(parse_port_spec(text).map_err(|_| ())),
        Value::Number(n) => Some(
            n.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(RawPort::Single)
                .ok_or(()),
        ),
        _ => Some(Err(())),
    }
}

/// One parsed port entry.
struct Published<'a> {
    host: RawPort,
    container: RawPort,
    address: Option<&'a str>,
    protocol: Option<&'a str>,
}

/// The host side of a parsed entry, after checking that both sides agree.
fn publish(service: &str, what: &str, entry: Published<'_>, notes: &mut Notes) -> Option<RawPort> {
    let width = |port: RawPort| match port {
        RawPort::Single(_) => 1,
        RawPort::Range((a, b)) => u32::from(b) - u32::from(a) + 1,
    };
    if matches!(entry.container, RawPort::Single(0)) {
        notes.service(
            service,
            format!("port {what} targets container port 0; not mapped"),
        );
        return None;
    }
    if matches!(entry.host, RawPort::Single(0)) {
        notes.service(
            service,
            format!("port {what} publishes host port 0 (docker picks one); not mapped"),
        );
        return None;
    }
    let (host_width, container_width) = (width(entry.host), width(entry.container));
    let host = match entry.host {
        RawPort::Range((a, b)) if a == b => RawPort::Single(a),
        host => host,
    };
    if container_width > 1 && host_width != container_width {
        notes.service(service, format!("port {what} maps {host_width} host port(s) to {container_width} container ports; not mapped"
        ));
        return None;
    }
    if host_width > 1 && container_width == 1 {
        notes.service(service, format!("port {what} publishes one port of the host range, which docker picks; the whole range is mapped"
        ));
    }
    if let Some(protocol) = entry.protocol.map(str::trim).filter(|p| !p.is_empty()) {
        match protocol.to_ascii_lowercase().as_str() {
            "tcp" => {}
            "udp" | "sctp" => notes.service(
                service,
                format!(
                    "port {what} is {protocol}; the manifest records the port without its protocol"
                ),
            ),
            _ => {
                notes.service(service, format!("port {what} has protocol `{protocol}`, which compose does not know; not mapped"
                ));
                return None;
            }
        }
    }
    if let Some(address) = entry.address.map(str::trim)
        && !matches!(address, "" | "0.0.0.0" | "::" | "[::]")
    {
        notes.service(service, format!("port {what} is published on `{address}` only; the manifest records the port, not the address"
        ));
    }
    Some(host)
}

/// Drops duplicates, merges overlapping ranges of the service and drops single ports that
/// one of its own ranges already holds.
fn normalize(ports: Vec<RawPort>) -> Vec<RawPort> {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for port in &ports {
        if let RawPort::Range((a, b)) = *port {
            match ranges.iter_mut().find(|(x, y)| a <= *y && *x <= b) {
                Some(range) => *range = (range.0.min(a), range.1.max(b)),
                None => ranges.push((a, b)),
            }
        }
    }
    // Merging can make two earlier ranges overlap; repeat until stable.
    loop {
        let mut merged = false;
        let mut i = 0;
        while i < ranges.len() {
            let mut j = i + 1;
            while j < ranges.len() {
                let ((a, b), (x, y)) = (ranges[i], ranges[j]);
                if a <= y && x <= b {
                    ranges[i] = (a.min(x), b.max(y));
                    ranges.remove(j);
                    merged = true;
                } else {
                    j += 1;
                }
            }
            i += 1;
        }
        if !merged {
            break;
        }
    }
    let mut out: Vec<RawPort> = Vec::new();
    let mut emitted_ranges = Vec::new();
    for port in ports {
        match port {
            RawPort::Single(p) => {
                let in_range = ranges.iter().any(|(a, b)| (*a..=*b).contains(&p));
                if !in_range && !out.contains(&port) {
                    out.push(port);
                }
            }
            RawPort::Range((a, b)) => {
                if let Some(&range) = ranges.iter().find(|(x, y)| *x <= a && b <= *y)
                    && !emitted_ranges.contains(&range)
                {
                    emitted_ranges.push(range);
                    out.push(RawPort::Range(range));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Notes, RawPort, published};

    fn single(p: u16) -> RawPort {
        RawPort::Single(p)
    }

    #[test]
    fn every_short_and_long_syntax_gives_the_host_side() {
        let cases: Vec<(serde_json::Value, Vec<RawPort>, usize)> = vec![
            (json!(["8080:80"]), vec![single(8080)], 0),
            (json!(["3000"]), vec![], 1),
            (json!([80]), vec![], 1),
            (json!(["127.0.0.1:8080:80"]), vec![single(8080)], 1),
            (json!(["0.0.0.0:8080:80"]), vec![single(8080)], 0),
            (json!(["127.0.0.1::80"]), vec![], 1),
            (json!([":80"]), vec![], 1),
            (
                json!(["8000-8010:8000-8010"]),
                vec![RawPort::Range((8000, 8010))],
                0,
            ),
            (
                json!(["9090-9091:8080-8081"]),
                vec![RawPort::Range((9090, 9091))],
                0,
            ),
            (json!(["8000-8000:80"]), vec![single(8000)], 0),
            (
                json!(["8000-8005:80"]),
                vec![RawPort::Range((8000, 8005))],
                1,
            ),
            (json!(["8080:80-81"]), vec![], 1),
            (json!(["9000-9002:80-81"]), vec![], 1),
            (json!(["6060:6060/udp"]), vec![single(6060)], 1),
            (json!(["6060:6060/tcp"]), vec![single(6060)], 0),
            (json!(["6060:6060/http"]), vec![], 1),
            (json!(["[::1]:6001:6001"]), vec![single(6001)], 1),
            (json!(["::1:6002:6002"]), vec![single(6002)], 1),
            (json!(["[::]:6003:6003"]), vec![single(6003)], 0),
            (json!(["0:80"]), vec![], 1),
            (json!(["70000:80"]), vec![], 1),
            (json!(["http:80"]), vec![], 1),
            (json!(["[::1:80"]), vec![], 1),
            (
                json!([{"target": 80, "published": "8080"}]),
                vec![single(8080)],
                0,
            ),
            (
                json!([{"target": 80, "published": 8080, "mode": "host"}]),
                vec![single(8080)],
                0,
            ),
            (
                json!([{"target": 80, "published": "8000-8002", "protocol": "tcp"}]),
                vec![RawPort::Range((8000, 8002))],
                1,
            ),
            (
                json!([{"target": 53, "published": 5353, "protocol": "udp", "host_ip": "127.0.0.1"}]),
                vec![single(5353)],
                2,
            ),
            (json!([{"target": 80}]), vec![], 1),
            (json!([{"target": 80, "published": ""}]), vec![], 1),
            (json!([{"published": 8080}]), vec![], 1),
            (json!([{"target": 80, "published": true}]), vec![], 1),
            (
                json!([{"target": 80, "published": 8080, "name": "web"}]),
                vec![single(8080)],
                1,
            ),
            (json!([true, null]), vec![], 2),
            (json!("8080:80"), vec![], 1),
            // Duplicates collapse; overlapping ranges of one service merge; a single port inside
            // the service's own range is dropped.
            (
                json!([
                    "53:53",
                    "53:53/udp",
                    "7000-7005:7000-7005",
                    "7003-7010:7003-7010",
                    "7004:80"
                ]),
                vec![single(53), RawPort::Range((7000, 7010))],
                1,
            ),
        ];
        for (ports, expected, note_count) in cases {
            let mut notes = Notes::default();
            assert_eq!(published("web", &ports, &mut notes), expected, "{ports}");
            assert_eq!(notes.len(), note_count, "{ports}: {notes:?}");
        }
    }
}

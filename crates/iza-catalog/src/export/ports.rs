//! Defines the [`PortMap`] (`iza ports`): who owns which port or range, every conflict, and
//! the free ranges left in the policy range. It is built from the wire model, not the
//! validated catalog, so that it maps manifests with conflicts too (the seed, imported
//! as it is, puts Grafana and the main dashboard both on 3000). What a conflict is comes
//! from [`crate::ports`], the definition `iza check` uses.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde::Serialize;

use crate::manifest::raw::{RawManifest, RawPort};
use crate::ports::{PortClaim, PortConflict, claims, conflicts, parse_policy};

/// The port map of a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortMap {
    /// The policy range (`3000-9999`), when the manifest sets a valid one.
    pub policy: Option<String>,
    /// Why `ecosystem.port_range` could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_error: Option<String>,
    /// Every claimed port and range, by port (a range before the ports inside it).
    pub ports: Vec<PortEntry>,
    /// Every conflict, in the order `iza check` finds them.
    pub conflicts: Vec<ConflictEntry>,
    /// Ports of the policy range nobody claims, as `a-b` ranges (`a` for a lone port).
    pub free: Vec<String>,
    /// How many ports `free` holds.
    pub free_ports: usize,
}

/// One claimed port or range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortEntry {
    /// The port (a number) or range (`8300-8399`).
    pub port: RawPort,
    /// The owning service's id.
    pub service: String,
    /// The owning service's display name (its id when it has none).
    pub name: String,
    /// The hub the service lives under, when it is a child.
    pub parent: Option<String>,
    /// Whether this claim is part of a conflict.
    pub conflict: bool,
    /// What to know about the claim (`child of `mcp-hub``, `range: 2 of 100 used`).
    pub note: Option<String>,
}

/// What kind of conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Two services on one port.
    SamePort,
    /// A port inside a range another service (not its parent) owns.
    InsideRange,
    /// Two owned ranges that overlap.
    RangeOverlap,
    /// A port or range outside the policy range.
    OutsidePolicy,
}

/// One conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictEntry {
    /// What kind.
    pub kind: ConflictKind,
    /// The port or range at issue, as the reported claim writes it.
    pub port: RawPort,
    /// The services involved: the one reported, then the other one when there is one.
    pub services: Vec<String>,
    /// The message, as `iza check` prints it.
    pub message: String,
}

impl PortMap {
    /// Builds the port map from the wire model, so that it works on manifests with conflicts.
    pub fn from_manifest(raw: &RawManifest) -> PortMap {
        let (policy, policy_error) = match raw
            .ecosystem
            .as_ref()
            .and_then(|e| e.get().port_range.as_ref())
            .map(|text| parse_policy(text.get()))
        {
            None => (None, None),
            Some(Ok(range)) => (Some(range), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let claims = claims(raw);
        let conflicts = conflicts(&claims, policy);

        let name_of = |id: &str| -> String {
            raw.services
                .get(id)
                .and_then(|s| s.get().name.clone())
                .unwrap_or_else(|| id.to_owned())
        };
        let mut ranges_of: HashMap<&str, Vec<(u16, u16)>> = HashMap::new();
        for claim in &claims {
            if let RawPort::Range(r) = claim.port {
                ranges_of.entry(claim.service).or_default().push(r);
            }
        }
        let in_conflict: HashSet<*const PortClaim<'_>> = conflicts
            .iter()
            .flat_map(|c| std::iter::once(c.claim()).chain(c.other()))
            .map(std::ptr::from_ref)
            .collect();
        let used = used_ports(&claims);

        let mut ports: Vec<PortEntry> = claims
            .iter()
            .map(|claim| {
                let note = match (claim.port, claim.parent) {
                    (RawPort::Range((a, b)), _) => {
                        let total = usize::from(b - a) + 1;
                        let taken = (a..=b).filter(|&p| used.single[usize::from(p)]).count();
                        Some(format!("range: {taken} of {total} used"))
                    }
                    (RawPort::Single(p), Some(parent)) => {
                        let outside = ranges_of.get(parent).is_some_and(|ranges| {
                            !ranges.iter().any(|&(a, b)| (a..=b).contains(&p))
                        });
                        Some(if outside {
                            format!("child of `{parent}`, outside its range")
                        } else {
                            format!("child of `{parent}`")
                        })
                    }
                    (RawPort::Single(_), None) => None,
                };
                PortEntry {
                    port: claim.port,
                    service: claim.service.to_owned(),
                    name: name_of(claim.service),
                    parent: claim.parent.map(str::to_owned),
                    conflict: in_conflict.contains(&std::ptr::from_ref(claim)),
                    note,
                }
            })
            .collect();
        // By first port; at one first port the wider claim (the range) comes first.
        ports.sort_by_key(|entry| {
            let (a, b) = bounds(entry.port);
            (a, std::cmp::Reverse(b))
        });

        let conflicts = conflicts
            .iter()
            .map(|conflict| ConflictEntry {
                kind: match conflict {
                    PortConflict::SamePort { .. } => ConflictKind::SamePort,
                    PortConflict::InsideRange { .. } => ConflictKind::InsideRange,
                    PortConflict::RangeOverlap { .. } => ConflictKind::RangeOverlap,
                    PortConflict::OutsidePolicy { .. } => ConflictKind::OutsidePolicy,
                },
                port: conflict.claim().port,
                services: std::iter::once(conflict.claim())
                    .chain(conflict.other())
                    .map(|c| c.service.to_owned())
                    .collect(),
                message: conflict.to_string(),
            })
            .collect();

        let free = policy.map_or_else(Vec::new, |(lo, hi)| free_ranges(&used.any, lo, hi));
        let free_ports = free.iter().map(|&(a, b)| usize::from(b - a) + 1).sum();
        let free = free
            .into_iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();

        PortMap {
            policy: policy.map(|(a, b)| format!("{a}-{b}")),
            policy_error,
            ports,
            conflicts,
            free,
            free_ports,
        }
    }

    /// The port map as a table for people: the claims (PORT, SERVICE, NAME, NOTE), then
    /// the conflicts, then the free ranges of the policy.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        // Writing into a `String` never fails; the results are ignored on purpose.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        match (&self.policy, &self.policy_error) {
            (Some(policy), _) => writeln!(out, "policy: {policy}")?,
            (None, Some(error)) => {
                writeln!(out, "policy: invalid `ecosystem.port_range`: {error}")?
            }
            (None, None) => writeln!(out, "policy: none (`ecosystem.port_range` is not set)")?,
        }
        writeln!(out)?;

        if self.ports.is_empty() {
            writeln!(out, "no service claims a port")?;
        } else {
            let rows: Vec<[String; 4]> = self
                .ports
                .iter()
                .map(|entry| {
                    let mut note: Vec<&str> = Vec::new();
                    if entry.conflict {
                        note.push("conflict");
                    }
                    if let Some(text) = &entry.note {
                        note.push(text);
                    }
                    [
                        port_text(entry.port),
                        one_line(&entry.service),
                        one_line(&entry.name),
                        note.join("; "),
                    ]
                })
                .collect();
            write_table(out, ["PORT", "SERVICE", "NAME", "NOTE"], &rows)?;
        }
        writeln!(out)?;

        if self.conflicts.is_empty() {
            writeln!(out, "conflicts: none")?;
        } else {
            writeln!(out, "conflicts ({}):", self.conflicts.len())?;
            for conflict in &self.conflicts {
                writeln!(out, "  {}", one_line(&conflict.message))?;
            }
        }
        writeln!(out)?;

        match &self.policy {
            None => writeln!(out, "free: unknown without a policy range")?,
            Some(policy) if self.free.is_empty() => {
                writeln!(out, "free: none, every port of {policy} is claimed")?;
            }
            Some(policy) => {
                let count = self.free_ports;
                writeln!(
                    out,
                    "free ({count} port{} of {policy}):",
                    if count == 1 { "" } else { "s" }
                )?;
                write_wrapped(out, &self.free, 88)?;
            }
        }
        Ok(())
    }
}

/// Which ports are claimed: as a single port, and by anything (single or range).
struct UsedPorts {
    single: Vec<bool>,
    any: Vec<bool>,
}

fn used_ports(claims: &[PortClaim<'_>]) -> UsedPorts {
    let mut single = vec![false; 1 << 16];
    let mut any = vec![false; 1 << 16];
    for claim in claims {
        let (a, b) = claim.bounds();
        if a == b && matches!(claim.port, RawPort::Single(_)) {
            single[usize::from(a)] = true;
        }
        for p in a..=b {
            any[usize::from(p)] = true;
        }
    }
    UsedPorts { single, any }
}

/// The runs of unclaimed ports in `lo..=hi`.
fn free_ranges(used: &[bool], lo: u16, hi: u16) -> Vec<(u16, u16)> {
    let mut free = Vec::new();
    let mut start: Option<u16> = None;
    for p in lo..=hi {
        let taken = used.get(usize::from(p)).copied().unwrap_or(false);
        match (taken, start) {
            (false, None) => start = Some(p),
            (true, Some(s)) => {
                free.push((s, p - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        free.push((s, hi));
    }
    free
}

fn bounds(port: RawPort) -> (u16, u16) {
    match port {
        RawPort::Single(p) => (p, p),
        RawPort::Range(r) => r,
    }
}

fn port_text(port: RawPort) -> String {
    match port {
        RawPort::Single(p) => p.to_string(),
        RawPort::Range((a, b)) => format!("{a}-{b}"),
    }
}

/// Text with its line breaks and other control characters turned into spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A table with columns padded to their widest cell (in characters), the last column unpadded.
fn write_table(out: &mut String, header: [&str; 4], rows: &[[String; 4]]) -> std::fmt::Result {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Items separated by `, `, indented two spaces, wrapped before `width` columns.
fn write_wrapped(out: &mut String, items: &[String], width: usize) -> std::fmt::Result {
    let mut line = String::from(" ");
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 == items.len() {
            item.clone()
        } else {
            format!("{item},")
        };
        if line.len() + 1 + piece.len() > width && line.len() > 1 {
            writeln!(out, "{line}")?;
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(&piece);
    }
    writeln!(out, "{line}")
}

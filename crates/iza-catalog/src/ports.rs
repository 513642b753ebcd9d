//! Defines what a port conflict is, once: the ports and ranges each service claims in the
//! wire model ([`claims`]), and every way two claims or a claim and the policy clash
//! ([`conflicts`]). The validator (`validate::ports`) turns these into diagnostics and the
//! port map (`export::ports`) lists them, so `iza check` and `iza ports` never disagree.

use std::fmt;
use std::ops::Range;

use crate::manifest::raw::{RawManifest, RawPort, parse_port_spec};

/// Number of distinct port numbers (0-65535).
const PORT_COUNT: usize = 1 << 16;

/// One port or range a service claims, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortClaim<'a> {
    /// The claiming service's id.
    pub service: &'a str,
    /// The hub the service names as `parent`, if any.
    pub parent: Option<&'a str>,
    /// The port or owned range.
    pub port: RawPort,
    /// Where the port is written in the manifest.
    pub span: Range<usize>,
}

impl PortClaim<'_> {
    /// The claim as an inclusive range (a single port `p` is `(p, p)`).
    pub fn bounds(&self) -> (u16, u16) {
        match self.port {
            RawPort::Single(p) => (p, p),
            RawPort::Range(r) => r,
        }
    }
}

/// Every port and range the services of a manifest claim: service by service in file
/// order, `port` before `ports`.
pub fn claims(raw: &RawManifest) -> Vec<PortClaim<'_>> {
    let mut claims = Vec::new();
    for (id, service) in &raw.services {
        let s = service.get();
        let parent = s.parent.as_ref().map(|p| p.get().as_str());
        let service = id.get().as_str();
        if let Some(port) = &s.port {
            claims.push(PortClaim {
                service,
                parent,
                port: RawPort::Single(*port.get()),
                span: port.span(),
            });
        }
        for port in &s.ports {
            claims.push(PortClaim {
                service,
                parent,
                port: *port.get(),
                span: port.span(),
            });
        }
    }
    claims
}

/// Reads a policy range written `START-END` (a single port is a range of one).
pub fn parse_policy(text: &str) -> Result<(u16, u16), String> {
    match parse_port_spec(text)? {
        RawPort::Range(r) => Ok(r),
        RawPort::Single(p) => Ok((p, p)),
    }
}

/// How two claims, or a claim and the policy, clash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortConflict<'c> {
    /// Two services claim one single port; `first` claimed it first.
    SamePort {
        /// The port.
        port: u16,
        /// The first claimant.
        first: &'c PortClaim<'c>,
        /// The later claimant, where the conflict is reported.
        claim: &'c PortClaim<'c>,
    },
    /// An owned range overlaps a range claimed before it (even by the same service).
    RangeOverlap {
        /// The first port the two ranges share.
        port: u16,
        /// The range claimed first.
        owner: &'c PortClaim<'c>,
        /// The overlapping range.
        claim: &'c PortClaim<'c>,
    },
    /// A single port inside a range owned by another service that is not its parent.
    InsideRange {
        /// The port.
        port: u16,
        /// The claim of the range.
        owner: &'c PortClaim<'c>,
        /// The claim of the port.
        claim: &'c PortClaim<'c>,
    },
    /// A port or range that is not inside the policy range.
    OutsidePolicy {
        /// The policy, inclusive.
        policy: (u16, u16),
        /// The claim outside it.
        claim: &'c PortClaim<'c>,
    },
}

impl<'c> PortConflict<'c> {
    /// The claim the conflict is reported at.
    pub fn claim(&self) -> &'c PortClaim<'c> {
        match *self {
            PortConflict::SamePort { claim, .. }
            | PortConflict::RangeOverlap { claim, .. }
            | PortConflict::InsideRange { claim, .. }
            | PortConflict::OutsidePolicy { claim, .. } => claim,
        }
    }

    /// The other claim involved, when there is one.
    pub fn other(&self) -> Option<&'c PortClaim<'c>> {
        match *self {
            PortConflict::SamePort { first, .. } => Some(first),
            PortConflict::RangeOverlap { owner, .. } | PortConflict::InsideRange { owner, .. } => {
                Some(owner)
            }
            PortConflict::OutsidePolicy { .. } => None,
        }
    }
}

/// The message `iza check` and `iza ports` both print.
impl fmt::Display for PortConflict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortConflict::SamePort { port, first, claim } => write!(
                f,
                "port {port} is claimed by both `{}` and `{}`",
                first.service, claim.service
            ),
            PortConflict::RangeOverlap { port, owner, claim } => {
                let (a, b) = claim.bounds();
                write!(
                    f,
                    "range {a}-{b} of `{}` overlaps the range `{}` owns (port {port})",
                    claim.service, owner.service
                )
            }
            PortConflict::InsideRange { port, owner, claim } => {
                let (a, b) = owner.bounds();
                write!(
                    f,
                    "port {port} of `{}` lies in the range {a}-{b} that `{}` owns",
                    claim.service, owner.service
                )
            }
            PortConflict::OutsidePolicy {
                policy: (lo, hi),
                claim,
            } => {
                let what = match claim.port {
                    RawPort::Single(p) => format!("port {p}"),
                    RawPort::Range((a, b)) if a == b => format!("port {a}"),
                    RawPort::Range((a, b)) => format!("range {a}-{b}"),
                };
                write!(
                    f,
                    "{what} of `{}` is outside the policy range {lo}-{hi}",
                    claim.service
                )
            }
        }
    }
}

/// Every conflict among `claims`, and with `policy` when there is one.
///
/// The order is stable: first, claim by claim, single ports claimed twice and ranges that
/// overlap an earlier range (an overlapping range is not recorded as owned); then, claim by
/// claim, ports inside another service's range and claims outside the policy. A service
/// that repeats its own port is not in conflict with itself; a child (`parent = hub`) may
/// sit inside its hub's range.
pub fn conflicts<'c>(
    claims: &'c [PortClaim<'c>],
    policy: Option<(u16, u16)>,
) -> Vec<PortConflict<'c>> {
    let mut found = Vec::new();
    // The first claim of each single port, and the claim of the range that owns each port.
    let mut single_owner: Vec<Option<&PortClaim<'c>>> = vec![None; PORT_COUNT];
    let mut range_owner: Vec<Option<&PortClaim<'c>>> = vec![None; PORT_COUNT];
    for claim in claims {
        match claim.port {
            RawPort::Single(p) => match single_owner[usize::from(p)] {
                Some(first) if first.service != claim.service => {
                    found.push(PortConflict::SamePort {
                        port: p,
                        first,
                        claim,
                    });
                }
                Some(_) => {}
                None => single_owner[usize::from(p)] = Some(claim),
            },
            RawPort::Range((a, b)) => {
                let overlap = (a..=b).find_map(|p| range_owner[usize::from(p)].map(|o| (p, o)));
                if let Some((port, owner)) = overlap {
                    found.push(PortConflict::RangeOverlap { port, owner, claim });
                } else {
                    for p in a..=b {
                        range_owner[usize::from(p)] = Some(claim);
                    }
                }
            }
        }
    }
    for claim in claims {
        if let RawPort::Single(p) = claim.port
            && let Some(owner) = range_owner[usize::from(p)]
            && owner.service != claim.service
            && claim.parent != Some(owner.service)
        {
            found.push(PortConflict::InsideRange {
                port: p,
                owner,
                claim,
            });
        }
        if let Some((lo, hi)) = policy {
            let (a, b) = claim.bounds();
            if a < lo || b > hi {
                found.push(PortConflict::OutsidePolicy {
                    policy: (lo, hi),
                    claim,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(
        service: &'static str,
        parent: Option<&'static str>,
        port: RawPort,
    ) -> PortClaim<'static> {
        PortClaim {
            service,
            parent,
            port,
            span: 0..0,
        }
    }

    #[test]
    fn each_kind_of_conflict_is_found_and_described() {
        use RawPort::{Range as R, Single as S};
        // (what, claims, policy, expected messages)
        type Case = (
            &'static str,
            Vec<PortClaim<'static>>,
            Option<(u16, u16)>,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (
                "two services on one port",
                vec![claim("a", None, S(3000)), claim("b", None, S(3000))],
                None,
                &["port 3000 is claimed by both `a` and `b`"],
            ),
            (
                "one service repeating its port",
                vec![claim("a", None, S(3000)), claim("a", None, S(3000))],
                None,
                &[],
            ),
            (
                "a stranger inside a range",
                vec![
                    claim("hub", None, R((8300, 8399))),
                    claim("x", None, S(8350)),
                ],
                None,
                &["port 8350 of `x` lies in the range 8300-8399 that `hub` owns"],
            ),
            (
                "a child inside its parent's range",
                vec![
                    claim("hub", None, R((8300, 8399))),
                    claim("x", Some("hub"), S(8350)),
                ],
                None,
                &[],
            ),
            (
                "overlapping ranges",
                vec![claim("a", None, R((10, 20))), claim("b", None, R((15, 30)))],
                None,
                &["range 15-30 of `b` overlaps the range `a` owns (port 15)"],
            ),
            (
                "outside the policy",
                vec![claim("a", None, S(80)), claim("b", None, R((9990, 10010)))],
                Some((3000, 9999)),
                &[
                    "port 80 of `a` is outside the policy range 3000-9999",
                    "range 9990-10010 of `b` is outside the policy range 3000-9999",
                ],
            ),
        ];
        for (what, claims, policy, expected) in cases {
            let messages: Vec<String> = conflicts(claims, *policy)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(messages, *expected, "{what}");
        }
    }

    #[test]
    fn policy_accepts_a_range_or_one_port() {
        assert_eq!(parse_policy("3000-9999"), Ok((3000, 9999)));
        assert_eq!(parse_policy("8080"), Ok((8080, 8080)));
        assert!(parse_policy("9999-3000").is_err());
        assert!(parse_policy("abc").is_err());
    }
}

//! Checks the port map: two services on one port, a port inside a range another service
//! owns (unless it is that service's child), overlapping owned ranges, ports outside the
//! ecosystem's policy range, and children outside their parent's range (a warning).

use std::ops::Range;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::{RawPort, parse_port_spec};

/// One port or range a service claims, with where it is written.
struct Claim<'a> {
    service: &'a str,
    parent: Option<&'a str>,
    port: RawPort,
    span: Range<usize>,
}

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let policy = policy_range(ctx);
    let claims = claims(ctx);

    // Single ports: first claimant per port, then every later one is a conflict.
    let mut single_owner: Vec<Option<u32>> = vec![None; 65536];
    // Owned ranges: which claim owns each port of a range.
    let mut range_owner: Vec<Option<u32>> = vec![None; 65536];
    for (i, claim) in claims.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        match claim.port {
            RawPort::Single(p) => match single_owner[usize::from(p)] {
                Some(first) if claims[first as usize].service != claim.service => {
                    let first = &claims[first as usize];
                    ctx.push(
                        Diagnostic::error(
                            Code::PortConflict,
                            format!(
                                "port {p} is claimed by both `{}` and `{}`",
                                first.service, claim.service
                            ),
                        )
                        .at(claim.span.clone())
                        .related(
                            first.span.clone(),
                            format!("`{}` claims it here", first.service),
                        )
                        .hint(format!(
                            "move `{}` or `{}` to a free port; `iza ports` lists them",
                            first.service, claim.service
                        )),
                    );
                }
                Some(_) => {}
                None => single_owner[usize::from(p)] = Some(index),
            },
            RawPort::Range((a, b)) => {
                let overlap = (a..=b).find_map(|p| range_owner[usize::from(p)].map(|o| (p, o)));
                if let Some((p, other)) = overlap {
                    let other = &claims[other as usize];
                    ctx.push(
                        Diagnostic::error(
                            Code::PortConflict,
                            format!(
                                "range {a}-{b} of `{}` overlaps the range `{}` owns (port {p})",
                                claim.service, other.service
                            ),
                        )
                        .at(claim.span.clone())
                        .related(
                            other.span.clone(),
                            format!("`{}` owns this range", other.service),
                        )
                        .hint("owned ranges must not overlap; shrink or move one of them"),
                    );
                } else {
                    for p in a..=b {
                        range_owner[usize::from(p)] = Some(index);
                    }
                }
            }
        }
    }

    for claim in &claims {
        if let RawPort::Single(p) = claim.port
            && let Some(owner) = range_owner[usize::from(p)]
        {
            let owner = &claims[owner as usize];
            if owner.service != claim.service && claim.parent != Some(owner.service) {
                let RawPort::Range((a, b)) = owner.port else {
                    continue;
                };
                ctx.push(
                    Diagnostic::error(
                        Code::PortConflict,
                        format!(
                            "port {p} of `{}` lies in the range {a}-{b} that `{}` owns",
                            claim.service, owner.service
                        ),
                    )
                    .at(claim.span.clone())
                    .related(owner.span.clone(), format!("`{}` owns this range", owner.service))
                    .hint(format!(
                        "if `{}` is one of `{}`'s children, add `parent = \"{}\"`; otherwise move it out of the range",
                        claim.service, owner.service, owner.service
                    )),
                );
            }
        }
        if let Some((lo, hi)) = policy {
            let (a, b) = match claim.port {
                RawPort::Single(p) => (p, p),
                RawPort::Range(r) => r,
            };
            if a < lo || b > hi {
                let what = if a == b {
                    format!("port {a}")
                } else {
                    format!("range {a}-{b}")
                };
                ctx.push(
                    Diagnostic::error(
                        Code::PortOutOfRange,
                        format!("{what} of `{}` is outside the policy range {lo}-{hi}", claim.service),
                    )
                    .at(claim.span.clone())
                    .hint(format!(
                        "move it into {lo}-{hi}, or widen `ecosystem.port_range` if the policy is wrong"
                    )),
                );
            }
        }
    }

    child_ports_inside_parent(ctx, &claims);
}

fn child_ports_inside_parent(ctx: &mut Ctx<'_>, claims: &[Claim<'_>]) {
    let raw = ctx.raw;
    let mut warnings = Vec::new();
    for claim in claims {
        let (Some(parent), RawPort::Single(p)) = (claim.parent, claim.port) else {
            continue;
        };
        let Some(&index) = ctx.service_index.get(parent) else {
            continue;
        };
        let parent_service = raw.services[index].get();
        let ranges: Vec<(u16, u16)> = parent_service
            .ports
            .iter()
            .filter_map(|port| match port.get() {
                RawPort::Range(r) => Some(*r),
                RawPort::Single(_) => None,
            })
            .collect();
        if !ranges.is_empty() && !ranges.iter().any(|(a, b)| (*a..=*b).contains(&p)) {
            warnings.push(
                Diagnostic::warning(
                    Code::PortOutsideParentRange,
                    format!(
                        "port {p} of `{}` is outside every range its parent `{parent}` owns",
                        claim.service
                    ),
                )
                .at(claim.span.clone())
                .hint(
                    "move the port into the parent's range, or drop `parent` if it is not a child",
                ),
            );
        }
    }
    for w in warnings {
        ctx.push(w);
    }
}

fn claims<'a>(ctx: &Ctx<'a>) -> Vec<Claim<'a>> {
    let mut claims = Vec::new();
    for (id, service) in &ctx.raw.services {
        let s = service.get();
        let parent = s.parent.as_ref().map(|p| p.get().as_str());
        let service = id.get().as_str();
        if let Some(port) = &s.port {
            claims.push(Claim {
                service,
                parent,
                port: RawPort::Single(*port.get()),
                span: port.span(),
            });
        }
        for port in &s.ports {
            claims.push(Claim {
                service,
                parent,
                port: *port.get(),
                span: port.span(),
            });
        }
    }
    claims
}

/// The ecosystem's policy range, or a diagnostic when it is malformed.
fn policy_range(ctx: &mut Ctx<'_>) -> Option<(u16, u16)> {
    let eco = ctx.raw.ecosystem.as_ref()?;
    let text = eco.get().port_range.as_ref()?;
    match parse_port_spec(text.get()) {
        Ok(RawPort::Range(r)) => Some(r),
        Ok(RawPort::Single(p)) => Some((p, p)),
        Err(e) => {
            ctx.push(
                Diagnostic::error(Code::InvalidValue, format!("`port_range` is invalid: {e}"))
                    .at(text.span())
                    .hint("write it as `START-END`, for example `3000-9999`"),
            );
            None
        }
    }
}

//! Checks the port map: two services on one port, a port inside a range another service
//! owns (unless it is that service's child), overlapping owned ranges, ports outside the
//! ecosystem's policy range, and children outside their parent's range (a warning).
//! What counts as a conflict is defined once, in [`crate::ports`]; this module turns each
//! conflict into a diagnostic with its related span and hint.

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::RawPort;
use crate::ports::{PortClaim, PortConflict, claims, conflicts, parse_policy};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let policy = policy_range(ctx);
    let claims = claims(ctx.raw);
    for conflict in conflicts(&claims, policy) {
        ctx.push(diagnostic(&conflict));
    }
    child_ports_inside_parent(ctx, &claims);
}

/// The diagnostic for one conflict: the shared message, where the other claim stands, and
/// what to do.
fn diagnostic(conflict: &PortConflict<'_>) -> Diagnostic {
    let message = conflict.to_string();
    match *conflict {
        PortConflict::SamePort { first, claim, .. } => {
            Diagnostic::error(Code::PortConflict, message)
                .at(claim.span.clone())
                .related(
                    first.span.clone(),
                    format!("`{}` claims it here", first.service),
                )
                .hint(format!(
                    "move `{}` or `{}` to a free port; `iza ports` lists them",
                    first.service, claim.service
                ))
        }
        PortConflict::RangeOverlap { owner, claim, .. } => {
            Diagnostic::error(Code::PortConflict, message)
                .at(claim.span.clone())
                .related(
                    owner.span.clone(),
                    format!("`{}` owns this range", owner.service),
                )
                .hint("owned ranges must not overlap; shrink or move one of them")
        }
        PortConflict::InsideRange { owner, claim, .. } => {
            Diagnostic::error(Code::PortConflict, message)
                .at(claim.span.clone())
                .related(owner.span.clone(), format!("`{}` owns this range", owner.service))
                .hint(format!(
                    "if `{}` is one of `{}`'s children, add `parent = \"{}\"`; otherwise move it out of the range",
                    claim.service, owner.service, owner.service
                ))
        }
        PortConflict::OutsidePolicy {
            policy: (lo, hi),
            claim,
        } => Diagnostic::error(Code::PortOutOfRange, message)
            .at(claim.span.clone())
            .hint(format!(
                "move it into {lo}-{hi}, or widen `ecosystem.port_range` if the policy is wrong"
            )),
    }
}

fn child_ports_inside_parent(ctx: &mut Ctx<'_>, claims: &[PortClaim<'_>]) {
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

/// The ecosystem's policy range, or a diagnostic when it is malformed.
fn policy_range(ctx: &mut Ctx<'_>) -> Option<(u16, u16)> {
    let eco = ctx.raw.ecosystem.as_ref()?;
    let text = eco.get().port_range.as_ref()?;
    match parse_policy(text.get()) {
        Ok(range) => Some(range),
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

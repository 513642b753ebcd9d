//! Checks agents: tiers are 1 to 3, `reports_to` points to a lower tier number, and every
//! service is watched by some agent (a warning when not).

use std::collections::HashSet;

use super::Ctx;
use crate::diagnostic::{Code, Diagnostic};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let raw = ctx.raw;
    for (id, agent) in &raw.agents {
        let a = agent.get();
        let tier = *a.tier.get();
        if !(1..=3).contains(&tier) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("agent `{}` has tier {tier}", id.get()),
                )
                .at(a.tier.span())
                .hint("tiers are 1 (orchestrators), 2 (service managers) and 3 (workers)"),
            );
        }
        let Some(boss_ref) = &a.reports_to else {
            continue;
        };
        let Some(boss) = raw.agents.get(boss_ref.get().as_str()) else {
            continue;
        };
        let boss_tier = *boss.get().tier.get();
        if boss_tier >= tier {
            let (boss_id, _) = raw
                .agents
                .get_key_value(boss_ref.get().as_str())
                .expect("looked up");
            ctx.push(
                Diagnostic::error(
                    Code::InvalidReportingLine,
                    format!(
                        "agent `{}` (tier {tier}) reports to `{}` (tier {boss_tier}), which is not a lower tier number",
                        id.get(),
                        boss_ref.get()
                    ),
                )
                .at(boss_ref.span())
                .related(boss_id.span(), format!("`{}` is defined here", boss_ref.get()))
                .hint("an agent escalates upwards: report to an agent of tier 1 or 2 below your own number"),
            );
        }
    }

    let watched_groups: HashSet<&str> = raw
        .agents
        .values()
        .flat_map(|a| a.get().groups.iter().map(|g| g.get().as_str()))
        .collect();
    let watched: HashSet<&str> = raw
        .agents
        .values()
        .flat_map(|a| a.get().services.iter().map(|s| s.get().as_str()))
        .collect();
    let mut warnings = Vec::new();
    for (id, service) in &raw.services {
        let in_watched_group = service
            .get()
            .group
            .as_ref()
            .is_some_and(|g| watched_groups.contains(g.get().as_str()));
        if !watched.contains(id.get().as_str()) && !in_watched_group {
            warnings.push(
                Diagnostic::warning(
                    Code::UnwatchedService,
                    format!("no agent watches service `{}`", id.get()),
                )
                .at(id.span())
                .hint("list it in an agent's `services`, or its group in an agent's `groups`"),
            );
        }
    }
    for w in warnings {
        ctx.push(w);
    }
}

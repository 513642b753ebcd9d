//! Builds the [`Catalog`] from the wire model, checking the values that stand on their own
//! while doing so: the version, durations and health checks. Tasks are built by `tasks`.

use std::time::Duration;

use super::Ctx;
use crate::condition::Condition;
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::raw::{RawCheck, RawPort, parse_port_spec};
use crate::manifest::spanned::Spanned;
use crate::model::{
    Agent, Catalog, Channel, ChannelKind, Check, CheckTarget, Claim, Connection, Ecosystem, Flow,
    FlowStep, Group, Service,
};

/// The default interval between two probes of one check.
pub(super) const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(30);
/// The default time one probe may take.
pub(super) const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP methods a check or an action may use.
pub(super) const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(super) fn build(ctx: &mut Ctx<'_>) -> Catalog {
    let raw = ctx.raw;
    if let Some(version) = &raw.version
        && *version.get() != 1
    {
        ctx.push(
            Diagnostic::error(
                Code::UnsupportedVersion,
                format!("manifest version {} is not supported", version.get()),
            )
            .at(version.span())
            .hint("this build of `iza` reads `version = 1`; upgrade `iza` or rewrite the manifest"),
        );
    }
    let ecosystem = raw.ecosystem.as_ref().map(Spanned::get);
    let ecosystem = Ecosystem {
        name: ecosystem
            .and_then(|e| e.name.clone())
            .unwrap_or_else(|| "ecosystem".to_owned()),
        description: ecosystem.and_then(|e| e.description.clone()),
        port_range: ecosystem.and_then(|e| e.port_range.as_ref()).and_then(
            |r| match parse_port_spec(r.get()) {
                Ok(RawPort::Range(r)) => Some(r),
                Ok(RawPort::Single(p)) => Some((p, p)),
                Err(_) => None, // reported by the ports check
            },
        ),
        claims: ecosystem
            .map(|e| {
                e.claims
                    .iter()
                    .map(|c| Claim {
                        label: c.get().label.clone(),
                        value: c.get().value.clone(),
                        counts: c.get().counts,
                        figure: c.get().figure.as_ref().map(|f| f.get().clone()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };

    let groups = raw
        .groups
        .iter()
        .map(|(id, g)| {
            let id = id.get().clone();
            let g = g.get();
            let group = Group {
                name: g.name.clone().unwrap_or_else(|| id.clone()),
                description: g.description.clone(),
                id: id.clone(),
            };
            (id, group)
        })
        .collect();

    let mut services = indexmap::IndexMap::with_capacity(raw.services.len());
    for (id, s) in &raw.services {
        let s = s.get();
        let figure_names: Vec<&str> = s.metrics.keys().map(|k| k.get().as_str()).collect();
        let check = s
            .check
            .as_ref()
            .and_then(|c| check(ctx, id.get(), c, &figure_names));
        let ports = s
            .port
            .iter()
            .map(|p| RawPort::Single(*p.get()))
            .chain(s.ports.iter().map(|p| *p.get()))
            .collect();
        if let Some(command) = &s.command
            && command.get().first().is_none_or(|p| p.trim().is_empty())
        {
            ctx.push(
                Diagnostic::error(Code::InvalidValue, format!("`command` of service `{}` is empty", id.get()))
                    .at(command.span())
                    .hint("give the program first, then its arguments: `command = [\"./server\", \"--port\", \"3000\"]`"),
            );
        }
        let process = super::process::spec(ctx, id.get(), s);
        let workflows = super::workflows::source(ctx, id.get(), s);
        let service = Service {
            id: id.get().clone(),
            name: s.name.clone().unwrap_or_else(|| id.get().clone()),
            group: s.group.as_ref().map(|g| g.get().clone()),
            kind: s.kind.unwrap_or_default(),
            description: s.description.clone(),
            features: s.features.clone(),
            ports,
            parent: s.parent.as_ref().map(|p| p.get().clone()),
            host: s.host.clone().unwrap_or_else(|| "localhost".to_owned()),
            docker: s.docker.clone(),
            command: s.command.as_ref().map(|c| c.get().clone()),
            workdir: s.workdir.clone(),
            node: s.node.clone(),
            env: s.env.clone(),
            depends_on: s
                .depends_on
                .iter()
                .map(|d| d.get().id().to_owned())
                .collect(),
            dependencies: super::process::dependencies(ctx, id.get(), s),
            process,
            connects: s
                .connects
                .iter()
                .map(|c| Connection {
                    to: c.get().to.get().clone(),
                    via: c.get().via.clone(),
                    description: c.get().description.clone(),
                })
                .collect(),
            tags: s.tags.clone(),
            metadata: s.metadata.clone(),
            check,
            figures: super::figures::service(ctx, id.get(), s),
            mcp: s
                .mcp
                .as_ref()
                .and_then(|m| super::mcp::upstream(ctx, id.get(), m)),
            workflows,
            span: id.span(),
        };
        services.insert(id.get().clone(), service);
    }

    let mut agents = indexmap::IndexMap::with_capacity(raw.agents.len());
    let mut tasks = Vec::new();
    for (id, a) in &raw.agents {
        let a = a.get();
        for t in &a.tasks {
            tasks.extend(super::tasks::task(ctx, Some(id.get()), t));
        }
        let (notify, ack_within) = super::alerts::agent(ctx, id.get(), a);
        agents.insert(
            id.get().clone(),
            Agent {
                notify,
                ack_within,
                id: id.get().clone(),
                name: a.name.clone().unwrap_or_else(|| id.get().clone()),
                tier: *a.tier.get(),
                reports_to: a.reports_to.as_ref().map(|r| r.get().clone()),
                role: a.role.clone(),
                services: a.services.iter().map(|s| s.get().clone()).collect(),
                groups: a.groups.iter().map(|g| g.get().clone()).collect(),
            },
        );
    }
    for t in &raw.tasks {
        let agent = t.get().agent.as_ref().map(|a| a.get().as_str());
        tasks.extend(super::tasks::task(ctx, agent, t));
    }

    let flows = raw
        .flows
        .iter()
        .map(|(id, f)| {
            let f = f.get();
            let steps = f
                .steps
                .iter()
                .map(|s| {
                    if ctx.is_service(s.get()) {
                        FlowStep::Service(s.get().clone())
                    } else {
                        FlowStep::Group(s.get().clone())
                    }
                })
                .collect();
            let flow = Flow {
                id: id.get().clone(),
                name: f.name.clone().unwrap_or_else(|| id.get().clone()),
                description: f.description.clone(),
                steps,
            };
            (id.get().clone(), flow)
        })
        .collect();

    let channels = raw
        .channels
        .iter()
        .map(|(id, c)| {
            let c = c.get();
            let channel = Channel {
                id: id.get().clone(),
                name: c.name.clone().unwrap_or_else(|| id.get().clone()),
                kind: c.kind.unwrap_or(ChannelKind::Other),
                description: c.description.clone(),
                via: c.via.as_ref().map(|v| v.get().clone()),
                services: c.services.iter().map(|s| s.get().clone()).collect(),
            };
            (id.get().clone(), channel)
        })
        .collect();

    let store = super::store::build(ctx);
    let alerting = super::alerts::build(ctx);
    let outputs = super::outputs::build(ctx);
    Catalog {
        ecosystem,
        groups,
        services,
        agents,
        tasks,
        flows,
        channels,
        store,
        notifiers: alerting.notifiers,
        alerts: alerting.alerts,
        maintenance: alerting.maintenance,
        outputs,
        inputs: super::flow::inputs(ctx),
    }
}

/// Parses a duration such as `15s` or `1h 30m`; zero is refused.
pub(super) fn duration(
    ctx: &mut Ctx<'_>,
    code: Code,
    text: &Spanned<String>,
    what: &str,
) -> Option<Duration> {
    match humantime::parse_duration(text.get()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            ctx.push(
                Diagnostic::error(code, format!("{what} is zero"))
                    .at(text.span())
                    .hint("give a positive duration such as `30s`"),
            );
            None
        }
        Err(e) => {
            ctx.push(
                Diagnostic::error(
                    code,
                    format!("{what} `{}` is not a duration: {e}", text.get()),
                )
                .at(text.span())
                .hint("write a number and a unit: `500ms`, `30s`, `5m`, `1h`"),
            );
            None
        }
    }
}

pub(crate) fn http_url_problem(url: &str) -> Option<String> {
    if !url.contains("://") {
        return Some(format!("`{url}` has no scheme; write `http://{url}`"));
    }
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => None,
        Ok(u) => Some(format!(
            "`{url}` is not an http(s) URL with a host (scheme `{}`)",
            u.scheme()
        )),
        Err(e) => Some(format!("`{url}` is not a URL: {e}")),
    }
}

pub(super) fn url_problem(url: &str, schemes: &[&str]) -> Option<String> {
    match url::Url::parse(url) {
        Ok(u) if schemes.contains(&u.scheme()) => None,
        Ok(u) => Some(format!(
            "scheme `{}` is not one of {}",
            u.scheme(),
            schemes
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Some(format!("`{url}` is not a URL: {e}")),
    }
}

fn host_port_problem(text: &str) -> Option<String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Some(format!("`{text}` is not `host:port`"));
    };
    if host.trim_matches(['[', ']']).is_empty() {
        return Some(format!("`{text}` has no host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => None,
        _ => Some(format!("`{port}` is not a port number")),
    }
}

/// Names a service's check in messages ("the check of service `api`"), formatted only when
/// a message is: a valid check, the common case, allocates nothing for it.
struct CheckOf<'a>(&'a str);

impl std::fmt::Display for CheckOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the check of service `{}`", self.0)
    }
}

fn check(
    ctx: &mut Ctx<'_>,
    service: &str,
    spanned: &Spanned<RawCheck>,
    figures: &[&str],
) -> Option<Check> {
    let c = spanned.get();
    let mut kinds: Vec<(CheckTarget, std::ops::Range<usize>, Option<String>)> = Vec::new();
    let mut add = |target: CheckTarget, span, problem| kinds.push((target, span, problem));
    if let Some(u) = &c.http {
        add(
            CheckTarget::Http(u.get().clone()),
            u.span(),
            http_url_problem(u.get()),
        );
    }
    if let Some(t) = &c.tcp {
        add(
            CheckTarget::Tcp(t.get().clone()),
            t.span(),
            host_port_problem(t.get()),
        );
    }
    if let Some(t) = &c.tls {
        add(
            CheckTarget::Tls(t.get().clone()),
            t.span(),
            host_port_problem(t.get()),
        );
    }
    if let Some(d) = &c.dns {
        let problem = d
            .get()
            .trim()
            .is_empty()
            .then(|| "the name is empty".to_owned());
        add(CheckTarget::Dns(d.get().clone()), d.span(), problem);
    }
    if let Some(e) = &c.exec {
        let problem = e
            .get()
            .first()
            .is_none_or(|p| p.trim().is_empty())
            .then(|| "the command is empty".to_owned());
        add(CheckTarget::Exec(e.get().clone()), e.span(), problem);
    }
    if let Some(u) = &c.postgres {
        add(
            CheckTarget::Postgres(u.get().clone()),
            u.span(),
            url_problem(u.get(), &["postgres", "postgresql"]),
        );
    }
    if let Some(u) = &c.redis {
        add(
            CheckTarget::Redis(u.get().clone()),
            u.span(),
            url_problem(u.get(), &["redis", "rediss"]),
        );
    }
    if let Some(u) = &c.amqp
        && super::flow::amqp_round_trip(c)
    {
        let (target, span, problem) = super::flow::amqp(c, u);
        add(target, span, problem);
    } else if let Some(u) = &c.amqp {
        add(
            CheckTarget::Amqp(u.get().clone()),
            u.span(),
            url_problem(u.get(), &["amqp", "amqps"]),
        );
    }
    if let Some(u) = &c.mcp {
        add(
            CheckTarget::Mcp(u.get().clone()),
            u.span(),
            http_url_problem(u.get()),
        );
    }
    let what = CheckOf(service);
    let tls_ok = super::flow::round_trips(ctx, &what, c, &mut kinds);
    let compare_ok = match &c.compare {
        Some(compare) => {
            let target = super::browser::compare_target(ctx, &what, compare, c);
            let ok = target.is_some();
            let fallback = || CheckTarget::Http(String::new());
            kinds.push((
                target.map_or_else(fallback, CheckTarget::Compare),
                compare.span(),
                None,
            ));
            ok
        }
        None => true,
    };
    let push_ok = super::flow::push(ctx, &what, c, &mut kinds);
    let browser_ok = if let Some(u) = &c.browser {
        let target = super::browser::target(ctx, &what, u, c);
        let ok = target.is_some();
        let fallback = || CheckTarget::Http(u.get().clone());
        kinds.push((
            target.map_or_else(fallback, CheckTarget::Browser),
            u.span(),
            None,
        ));
        ok
    } else if c.compare.is_some() {
        true
    } else {
        super::browser::refuse_browser_keys(ctx, &what, c)
    };
    let browser_ok = browser_ok && compare_ok;
    if kinds.len() != 1 {
        ctx.push(
            Diagnostic::error(
                Code::InvalidCheck,
                format!(
                    "{what} must have exactly one of `http`, `tcp`, `tls`, `dns`, `exec`, `postgres`, `redis`, `amqp`, `mcp`, `browser`, `compare`, `nats`, `mqtt`, `push` (it has {})",
                    kinds.len()
                ),
            )
            .at(spanned.span())
            .hint("for example `check = { http = \"http://localhost:3000/healthz\" }`"),
        );
        return None;
    }
    let (target, span, problem) = kinds.pop().expect("one kind");
    let mut ok = browser_ok && push_ok && tls_ok;
    ok &= super::flow::refuse_misplaced(ctx, &what, c, &target);
    if let Some(problem) = problem {
        ctx.push(
            Diagnostic::error(Code::InvalidCheck, format!("{what} is invalid: {problem}")).at(span),
        );
        ok = false;
    }
    let method = match &c.method {
        Some(m) => {
            let upper = m.get().to_ascii_uppercase();
            if !METHODS.contains(&upper.as_str()) {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidCheck,
                        format!("`{}` is not an HTTP method", m.get()),
                    )
                    .at(m.span())
                    .hint(format!("use one of {}", METHODS.join(", "))),
                );
                ok = false;
            }
            upper
        }
        None => "GET".to_owned(),
    };
    let mut conditions = Vec::with_capacity(c.conditions.len());
    for condition in &c.conditions {
        match condition.get().parse::<Condition>() {
            Ok(parsed) => {
                let is_browser =
                    matches!(target, CheckTarget::Browser(_) | CheckTarget::Compare(_));
                let is_compare = matches!(target, CheckTarget::Compare(_));
                let is_mcp = matches!(target, CheckTarget::Mcp(_));
                let is_round_trip = matches!(
                    target,
                    CheckTarget::Nats(_) | CheckTarget::Mqtt(_) | CheckTarget::AmqpRoundTrip(_)
                );
                let misplaced = parsed.placeholders().find_map(|p| {
                    if p.is_compare_only() && !is_compare {
                        Some((p, "a comparison reports", "make it a comparison (`compare = { original = \"URL\", replica = \"URL\" }`), or remove the condition"))
                    } else if p.is_round_trip_only() && !is_round_trip {
                        Some((p, "round-trip checks report", "use it on a check such as `{ nats = \"nats://127.0.0.1:4222\" }`, `{ mqtt = ... }` or `{ amqp = ..., round_trip = true }`"))
                    } else if p.is_browser_only() && !is_browser {
                        Some((p, "a browser check reports", "make it a browser check (`browser = \"URL\"`), or remove the condition"))
                    } else if p.is_mcp_only() && !is_mcp {
                        Some((p, "`mcp` checks report", "use it on a check such as `{ mcp = \"http://localhost:8300/mcp\" }`"))
                    } else {
                        None
                    }
                });
                if let Some((p, only, hint)) = misplaced {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidCheck,
                            format!(
                                "a condition of {what} reads `[{}]`, which only {only}",
                                p.name()
                            ),
                        )
                        .at(condition.span())
                        .hint(hint),
                    );
                    ok = false;
                }
                if let Some(problem) = super::figure_conditions::undeclared(&parsed, figures) {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidCheck,
                            format!("a condition of {what} reads {}", problem.message),
                        )
                        .at(condition.span())
                        .hint(problem.hint),
                    );
                    ok = false;
                }
                conditions.push(parsed);
            }
            Err(e) => {
                let d = Diagnostic::error(
                    Code::InvalidCheck,
                    format!("a condition of {what} is invalid: {e}"),
                )
                .at(condition.span());
                ctx.push(match e.hint {
                    Some(hint) => d.hint(hint),
                    None => {
                        d.hint("conditions follow Gatus's syntax, for example `[STATUS] == 200`")
                    }
                });
                ok = false;
            }
        }
    }
    let every = c
        .every
        .as_ref()
        .map(|d| duration(ctx, Code::InvalidCheck, d, &format!("`every` of {what}")));
    let timeout = c
        .timeout
        .as_ref()
        .map(|d| duration(ctx, Code::InvalidCheck, d, &format!("`timeout` of {what}")));
    if matches!(every, Some(None)) || matches!(timeout, Some(None)) {
        ok = false;
    }
    for (key, threshold) in [
        ("failure_threshold", c.failure_threshold),
        ("success_threshold", c.success_threshold),
    ] {
        if threshold == Some(0) {
            ctx.push(
                Diagnostic::error(Code::InvalidCheck, format!("`{key}` of {what} is 0"))
                    .at(spanned.span())
                    .hint("a threshold counts consecutive results and starts at 1"),
            );
            ok = false;
        }
    }
    let (regions, quorum) = match regions(ctx, spanned, &what) {
        Some(regions) => regions,
        None => {
            ok = false;
            (Vec::new(), 0)
        }
    };
    ok.then(|| Check {
        target,
        method,
        headers: c.headers.clone(),
        body: c.body.clone(),
        follow_redirects: c.follow_redirects.unwrap_or(true),
        verify_tls: c.verify_tls.unwrap_or(true),
        record: c.record.clone().unwrap_or_else(|| "A".to_owned()),
        shell: c.shell.unwrap_or(false),
        every: every.flatten().unwrap_or(DEFAULT_CHECK_EVERY),
        timeout: timeout.flatten().unwrap_or(DEFAULT_CHECK_TIMEOUT),
        conditions,
        failure_threshold: c.failure_threshold.unwrap_or(1),
        success_threshold: c.success_threshold.unwrap_or(1),
        regions,
        quorum,
    })
}

/// A check's `regions` and `quorum`: regions non-empty, each a non-blank word written once;
/// a quorum from 1 to the number of regions (a majority when not written), and only with
/// regions. A warning when the manifest keeps the embedded store, where there is one node.
/// `None` after an error.
fn regions(
    ctx: &mut Ctx<'_>,
    spanned: &Spanned<RawCheck>,
    what: &CheckOf<'_>,
) -> Option<(Vec<String>, u32)> {
    let c = spanned.get();
    let Some(list) = &c.regions else {
        if let Some(quorum) = &c.quorum {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("`quorum` of {what} without `regions`"),
                )
                .at(quorum.span())
                .hint(
                    "a quorum counts regions: add `regions = [\"eu\", \"us\"]`, or remove `quorum`",
                ),
            );
            return None;
        }
        return Some((Vec::new(), 0));
    };
    let mut ok = true;
    if list.get().is_empty() {
        ctx.push(
            Diagnostic::error(Code::InvalidCheck, format!("`regions` of {what} is empty"))
                .at(list.span())
                .hint("name the regions to probe from (`regions = [\"eu\", \"us\"]`), or remove `regions` to probe from any one node"),
        );
        ok = false;
    }
    let mut regions: Vec<String> = Vec::new();
    let mut seen: std::collections::HashMap<&str, std::ops::Range<usize>> =
        std::collections::HashMap::new();
    for region in list.get() {
        let name = region.get().as_str();
        if name.trim().is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("a region of {what} is `{name}`, which is blank or holds spaces"),
                )
                .at(region.span())
                .hint(
                    "a region is the word given to `iza serve --region`, such as `eu` or `us-east`",
                ),
            );
            ok = false;
            continue;
        }
        if let Some(first) = seen.get(name) {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!("region `{name}` is listed twice in `regions` of {what}"),
                )
                .at(region.span())
                .related(first.clone(), "first listed here")
                .hint("each region is probed once: remove the repeat"),
            );
            ok = false;
            continue;
        }
        seen.insert(name, region.span());
        regions.push(name.to_owned());
    }
    let count = u32::try_from(list.get().len()).unwrap_or(u32::MAX);
    let quorum = match &c.quorum {
        Some(quorum) if *quorum.get() == 0 || *quorum.get() > count => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidCheck,
                    format!(
                        "`quorum` of {what} is {}, outside 1 to {count} (the number of regions)",
                        quorum.get()
                    ),
                )
                .at(quorum.span())
                .hint("the quorum is how many of the listed regions must see the service down for it to be `down`"),
            );
            ok = false;
            0
        }
        Some(quorum) => *quorum.get(),
        None => count / 2 + 1,
    };
    if ok
        && !ctx.raw.store.as_ref().is_some_and(|store| {
            store
                .get()
                .url
                .as_ref()
                .is_some_and(|url| !url.get().trim_start().starts_with("sqlite:"))
        })
    {
        ctx.push(
            Diagnostic::warning(
                Code::RegionsWithoutSharedStore,
                format!("{what} is probed from regions, but the manifest keeps the embedded SQLite store"),
            )
            .at(list.span())
            .hint("regions need several nodes sharing PostgreSQL (`[store] url = \"${IZA_DATABASE_URL}\"`, or `iza serve --store postgres://...`); on SQLite the check is probed once, from this node, and the quorum does not apply"),
        );
    }
    ok.then_some((regions, quorum))
}

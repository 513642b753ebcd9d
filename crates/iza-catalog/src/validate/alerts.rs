//! Builds the alerting part of the catalog: `[notifiers.<id>]` (a known `kind`, the keys that
//! kind reads and no other, `http(s)` URLs unless written as `${ENV}` references), `[[alerts]]`
//! rules (unique names, known services/groups/agents/notifiers, statuses, durations, a
//! destination) and `[[maintenance]]` windows (`cron` + `duration`, or `start` + `end`), and
//! each agent's `notify` and `ack_within`. Diagnostics use the codes `invalid-notifier`,
//! `invalid-alert` and `invalid-maintenance`, and `unknown-reference` for names.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use indexmap::IndexMap;

use super::Ctx;
use super::fields::duration;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::manifest::raw::{RawAgent, RawAlertRule, RawMaintenance, RawNotifier, ServiceKind};
use crate::manifest::spanned::Spanned;
use crate::model::{
    AlertOn, AlertRule, Maintenance, MaintenanceWindow, Notifier, NotifierKind, SmtpTls,
};

/// The default grouping window of a rule.
pub(crate) const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(2);
/// The default time one delivery attempt may take.
pub(crate) const DEFAULT_NOTIFIER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default retries of a failed delivery.
pub(crate) const DEFAULT_NOTIFIER_RETRIES: u32 = 5;

/// Whether `text` is one environment reference and nothing else (`${NAME}`).
pub fn is_env_reference(text: &str) -> bool {
    text.strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

pub(super) struct Built {
    pub(super) notifiers: IndexMap<String, Notifier>,
    pub(super) alerts: Vec<AlertRule>,
    pub(super) maintenance: Vec<Maintenance>,
}

pub(super) fn build(ctx: &mut Ctx<'_>) -> Built {
    let raw = ctx.raw;
    let mut notifiers = IndexMap::new();
    for (id, n) in &raw.notifiers {
        if let Some(notifier) = notifier(ctx, id.get(), n.get()) {
            notifiers.insert(id.get().clone(), notifier);
        }
    }
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    let mut alerts = Vec::new();
    for rule in &raw.alerts {
        let name = rule.get().name.get().as_str();
        if let Some(first) = seen.get(name) {
            ctx.push(
                Diagnostic::error(
                    Code::DuplicateId,
                    format!("alert rule `{name}` is defined twice"),
                )
                .at(rule.get().name.span())
                .related(first.clone(), "first defined here")
                .hint("give each `[[alerts]]` rule its own `name`"),
            );
        } else {
            seen.insert(name, rule.get().name.span());
        }
        if let Some(r) = alert_rule(ctx, rule) {
            alerts.push(r);
        }
    }
    let maintenance = raw
        .maintenance
        .iter()
        .filter_map(|m| maintenance(ctx, m))
        .collect();
    for (id, agent) in &raw.agents {
        for n in &agent.get().notify {
            notifier_ref(ctx, n, &format!("`notify` of agent `{}`", id.get()));
        }
    }
    Built {
        notifiers,
        alerts,
        maintenance,
    }
}

/// An agent's `notify` and `ack_within`.
pub(super) fn agent(ctx: &mut Ctx<'_>, id: &str, a: &RawAgent) -> (Vec<String>, Option<Duration>) {
    let ack = a.ack_within.as_ref().and_then(|d| {
        duration(
            ctx,
            Code::InvalidAlert,
            d,
            &format!("`ack_within` of agent `{id}`"),
        )
    });
    (a.notify.iter().map(|n| n.get().clone()).collect(), ack)
}

fn notifier(ctx: &mut Ctx<'_>, id: &str, n: &RawNotifier) -> Option<Notifier> {
    let Some(kind) = NotifierKind::parse(n.kind.get().trim()) else {
        let names = NotifierKind::ALL.map(NotifierKind::as_str);
        let d = Diagnostic::error(
            Code::InvalidNotifier,
            format!(
                "notifier `{id}` has kind `{}`, which is not a notifier kind",
                n.kind.get()
            ),
        )
        .at(n.kind.span());
        ctx.push(match did_you_mean(n.kind.get(), names) {
            Some(close) => d.hint(format!("did you mean `{close}`?")),
            None => d.hint(format!("the kinds are {}", list(&names))),
        });
        return None;
    };
    let present: [(&str, Option<Range<usize>>); 12] = [
        ("url", n.url.as_ref().map(Spanned::span)),
        ("secret", n.secret.as_ref().map(Spanned::span)),
        ("headers", n.headers.as_ref().map(Spanned::span)),
        ("token", n.token.as_ref().map(Spanned::span)),
        ("chat_id", n.chat_id.as_ref().map(Spanned::span)),
        ("from", n.from.as_ref().map(Spanned::span)),
        ("to", n.to.as_ref().map(Spanned::span)),
        ("tls", n.tls.as_ref().map(Spanned::span)),
        ("username", n.username.as_ref().map(Spanned::span)),
        ("password", n.password.as_ref().map(Spanned::span)),
        ("command", n.command.as_ref().map(Spanned::span)),
        ("env", n.env.as_ref().map(Spanned::span)),
    ];
    let mut ok = true;
    for (key, span) in &present {
        if let Some(span) = span
            && !kind.keys().contains(key)
        {
            ok = false;
            ctx.push(
                Diagnostic::error(
                    Code::InvalidNotifier,
                    format!(
                        "notifier `{id}` of kind `{}` does not read `{key}`",
                        kind.as_str()
                    ),
                )
                .at(span.clone())
                .hint(format!(
                    "a `{}` notifier reads {}; remove `{key}`",
                    kind.as_str(),
                    list(kind.keys())
                )),
            );
        }
    }
    for key in kind.required() {
        if present.iter().any(|(k, span)| k == key && span.is_none()) {
            ok = false;
            ctx.push(
                Diagnostic::error(
                    Code::InvalidNotifier,
                    format!("notifier `{id}` of kind `{}` needs `{key}`", kind.as_str()),
                )
                .at(n.kind.span())
                .hint(match *key {
                    "url" => "add `url = \"https://…\"`, or `url = \"${ENV_VAR}\"` to keep it out of the manifest".to_owned(),
                    _ => format!("add `{key} = \"${{ENV_VAR}}\"` (a secret: keep it in the environment)"),
                }),
            );
        }
    }
    let schemes: &[&str] = if kind == NotifierKind::Email {
        &["smtp"]
    } else {
        &["http", "https"]
    };
    if let Some(url) = &n.url {
        let text = url.get().trim();
        if !text.contains("${") {
            match url::Url::parse(text) {
                Ok(u) if schemes.contains(&u.scheme()) => {}
                _ if kind == NotifierKind::Email => {
                    ok = false;
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidNotifier,
                            format!("`url` of notifier `{id}` is `{text}`, which is not an SMTP server URL"),
                        )
                        .at(url.span())
                        .hint("write `smtp://mail.example.com:587` (with `tls` saying how it is protected)"),
                    );
                }
                _ => {
                    ok = false;
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidNotifier,
                            format!("`url` of notifier `{id}` is `{text}`, which is not an http(s) URL"),
                        )
                        .at(url.span())
                        .hint("write `https://host/path`, or an environment reference such as `${SLACK_WEBHOOK}`"),
                    );
                }
            }
        }
    }
    ok &= extra_keys(ctx, id, kind, n);
    for (key, value) in [
        ("secret", &n.secret),
        ("token", &n.token),
        ("password", &n.password),
    ] {
        if let Some(v) = value
            && !is_env_reference(v.get().trim())
        {
            ctx.push(
                Diagnostic::warning(
                    Code::InvalidNotifier,
                    format!("`{key}` of notifier `{id}` is written in the manifest"),
                )
                .at(v.span())
                .hint(format!(
                    "write `{key} = \"${{ENV_VAR}}\"` and set the variable where `iza` runs"
                )),
            );
        }
    }
    if let Some(t) = &n.template
        && t.get().trim().is_empty()
    {
        ctx.push(
            Diagnostic::error(
                Code::InvalidNotifier,
                format!("`template` of notifier `{id}` is empty"),
            )
            .at(t.span())
            .hint("remove `template` to use the default message"),
        );
        ok = false;
    }
    let timeout = n
        .timeout
        .as_ref()
        .and_then(|d| {
            duration(
                ctx,
                Code::InvalidNotifier,
                d,
                &format!("`timeout` of notifier `{id}`"),
            )
        })
        .unwrap_or(DEFAULT_NOTIFIER_TIMEOUT);
    ok.then(|| Notifier {
        id: id.to_owned(),
        kind,
        url: n.url.as_ref().map(|u| u.get().trim().to_owned()),
        secret: n.secret.as_ref().map(|s| s.get().trim().to_owned()),
        headers: n
            .headers
            .as_ref()
            .map(|h| h.get().clone())
            .unwrap_or_default(),
        template: n.template.as_ref().map(|t| t.get().clone()),
        token: n.token.as_ref().map(|t| t.get().trim().to_owned()),
        timeout,
        retries: n.retries.unwrap_or(DEFAULT_NOTIFIER_RETRIES),
        chat_id: n.chat_id.as_ref().map(|c| c.get().trim().to_owned()),
        from: n.from.as_ref().map(|f| f.get().trim().to_owned()),
        to: n
            .to
            .as_ref()
            .map(|t| t.get().iter().map(|a| a.trim().to_owned()).collect())
            .unwrap_or_default(),
        tls: n
            .tls
            .as_ref()
            .and_then(|t| smtp_tls(t.get()))
            .unwrap_or_default(),
        username: n.username.as_ref().map(|u| u.get().clone()),
        password: n.password.as_ref().map(|p| p.get().clone()),
        command: n
            .command
            .as_ref()
            .map(|c| c.get().clone())
            .unwrap_or_default(),
        env: n.env.as_ref().map(|e| e.get().clone()).unwrap_or_default(),
        fallback: n.fallback.as_ref().map(|f| f.get().clone()),
    })
}

fn smtp_tls(word: &str) -> Option<SmtpTls> {
    match word.trim() {
        "starttls" => Some(SmtpTls::Starttls),
        "tls" => Some(SmtpTls::Tls),
        "none" => Some(SmtpTls::None),
        _ => None,
    }
}

/// The checks of the keys of `telegram`, `email` and `exec`, and of `fallback`.
fn extra_keys(ctx: &mut Ctx<'_>, id: &str, kind: NotifierKind, n: &RawNotifier) -> bool {
    let mut ok = true;
    let mut error = |ctx: &mut Ctx<'_>, span: Range<usize>, text: String, hint: &str| {
        ok = false;
        ctx.push(
            Diagnostic::error(Code::InvalidNotifier, text)
                .at(span)
                .hint(hint.to_owned()),
        );
    };
    if let Some(t) = &n.tls
        && smtp_tls(t.get()).is_none()
    {
        error(
            ctx,
            t.span(),
            format!(
                "`tls` of notifier `{id}` is `{}`, which is not an SMTP protection",
                t.get()
            ),
            "write `starttls` (port 587), `tls` (port 465) or `none` (a local relay only)",
        );
    }
    if let Some(to) = &n.to
        && (to.get().is_empty() || to.get().iter().any(|a| !a.contains('@')))
    {
        error(
            ctx,
            to.span(),
            format!("`to` of notifier `{id}` needs one or more mail addresses"),
            "write `to = [\"ops@example.com\"]`",
        );
    }
    if let Some(from) = &n.from
        && !from.get().contains('@')
    {
        error(
            ctx,
            from.span(),
            format!(
                "`from` of notifier `{id}` is `{}`, which is not a mail address",
                from.get()
            ),
            "write `from = \"IZA <iza@example.com>\"`",
        );
    }
    if let Some(command) = &n.command
        && command.get().first().is_none_or(|p| p.trim().is_empty())
    {
        error(
            ctx,
            command.span(),
            format!("`command` of notifier `{id}` has no program"),
            "write `command = [\"/usr/local/bin/page\", \"--team\", \"ops\"]`",
        );
    }
    if let Some(fallback) = &n.fallback {
        let name = fallback.get();
        if name == id {
            error(
                ctx,
                fallback.span(),
                format!("notifier `{id}` falls back to itself"),
                "name another notifier, or remove `fallback`",
            );
        } else if !ctx.raw.notifiers.keys().any(|k| k.get() == name) {
            let known: Vec<&str> = ctx.raw.notifiers.keys().map(|k| k.get().as_str()).collect();
            reference(
                ctx,
                fallback,
                &format!("`fallback` of notifier `{id}`"),
                "notifier",
                known,
            );
            ok = false;
        }
    }
    let _ = kind;
    ok
}

fn alert_rule(ctx: &mut Ctx<'_>, spanned: &Spanned<RawAlertRule>) -> Option<AlertRule> {
    let r = spanned.get();
    let name = r.name.get();
    let what = |key: &str| format!("`{key}` of alert rule `{name}`");
    if name.trim().is_empty() {
        ctx.push(
            Diagnostic::error(Code::InvalidAlert, "an alert rule has an empty `name`")
                .at(r.name.span())
                .hint("name the rule, such as `databases down`"),
        );
    }
    for s in &r.services {
        reference(
            ctx,
            s,
            &what("services"),
            "service",
            ctx.raw.services.keys().map(|k| k.get().as_str()).collect(),
        );
    }
    for g in &r.groups {
        reference(
            ctx,
            g,
            &what("groups"),
            "group",
            ctx.raw.groups.keys().map(|k| k.get().as_str()).collect(),
        );
    }
    let kinds = service_kinds(ctx, &r.kinds, &what("kinds"));
    let mut statuses = Vec::new();
    if let Some(words) = &r.statuses {
        for (word, span) in words.words() {
            match word {
                "down" => statuses.push(AlertOn::Down),
                "degraded" => statuses.push(AlertOn::Degraded),
                "impacted" => statuses.push(AlertOn::Impacted),
                other => ctx.push(
                    Diagnostic::error(
                        Code::InvalidAlert,
                        format!("{} holds `{other}`, which is not a status an alert fires on", what("statuses")),
                    )
                    .at(span)
                    .hint("write `down`, `degraded` or `impacted` (an impacted service is already named in its root cause's alert)"),
                ),
            }
        }
        if statuses.is_empty()
            && matches!(words.get(), crate::manifest::raw::RawWords::Many(w) if w.is_empty())
        {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidAlert,
                    format!("{} is empty, so the rule never fires", what("statuses")),
                )
                .at(words.span())
                .hint("remove `statuses` to fire on `down`, or list the statuses"),
            );
        }
    } else {
        statuses.push(AlertOn::Down);
    }
    statuses.dedup();
    let when = r
        .when
        .as_ref()
        .and_then(|w| when(ctx, r, &kinds, w, &what("when")));
    let opt = |ctx: &mut Ctx<'_>, key: &str, v: &Option<Spanned<String>>| {
        v.as_ref()
            .and_then(|d| duration(ctx, Code::InvalidAlert, d, &what(key)))
    };
    let for_ = opt(ctx, "for", &r.for_).unwrap_or(Duration::ZERO);
    let repeat = opt(ctx, "repeat", &r.repeat);
    let group_wait = opt(ctx, "group_wait", &r.group_wait).unwrap_or(DEFAULT_GROUP_WAIT);
    for n in &r.notify {
        notifier_ref(ctx, n, &what("notify"));
    }
    let to_agent = r.to_agent.as_ref().is_some_and(|t| *t.get());
    if r.notify.is_empty() && !to_agent {
        ctx.push(
            Diagnostic::error(Code::InvalidAlert, format!("alert rule `{name}` tells nobody"))
                .at(r.name.span())
                .hint("add `notify = [\"<notifier id>\"]`, or `to_agent = true` to tell the agents that watch the service"),
        );
    }
    if to_agent
        && !ctx.raw.agents.values().any(|a| !a.get().notify.is_empty())
        && let Some(t) = &r.to_agent
    {
        ctx.push(
            Diagnostic::warning(
                Code::InvalidAlert,
                format!("alert rule `{name}` has `to_agent = true` but no agent has `notify`"),
            )
            .at(t.span())
            .hint("give the agents that watch these services `notify = [\"<notifier id>\"]`"),
        );
    }
    Some(AlertRule {
        name: name.clone(),
        services: r.services.iter().map(|s| s.get().clone()).collect(),
        groups: r.groups.iter().map(|s| s.get().clone()).collect(),
        tags: r.tags.iter().map(|s| s.get().clone()).collect(),
        kinds,
        statuses,
        r#for: for_,
        repeat,
        send_resolved: r.send_resolved.unwrap_or(true),
        severity: r.severity.unwrap_or_default(),
        notify: r.notify.iter().map(|s| s.get().clone()).collect(),
        to_agent,
        group_wait,
        when,
    })
}

/// A rule's `when`: a condition that reads business figures only, each declared by at least
/// one service the rule selects; and no `statuses` beside it.
fn when(
    ctx: &mut Ctx<'_>,
    r: &RawAlertRule,
    kinds: &[ServiceKind],
    text: &Spanned<String>,
    what: &str,
) -> Option<crate::condition::Condition> {
    let condition = match text.get().parse::<crate::condition::Condition>() {
        Ok(condition) => condition,
        Err(e) => {
            ctx.push(
                Diagnostic::error(Code::InvalidAlert, format!("{what} is invalid: {e}"))
                    .at(text.span())
                    .hint(e.hint.unwrap_or_else(|| {
                        "write a condition on a figure, such as `[METRIC].arr < 1000000`".to_owned()
                    })),
            );
            return None;
        }
    };
    let mut ok = true;
    if let Some(p) = condition.placeholders().find(|p| !p.is_figure()) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAlert,
                format!("{what} reads `[{}]`; a rule's condition reads only business figures (`[METRIC].<figure>`)", p.name()),
            )
            .at(text.span())
            .hint("put conditions on what a probe sees in the service's `check`, and fire on `statuses = [\"down\"]`"),
        );
        ok = false;
    } else if condition.figures().next().is_none() {
        ctx.push(
            Diagnostic::error(Code::InvalidAlert, format!("{what} reads no figure"))
                .at(text.span())
                .hint("for example `when = \"[METRIC].arr < 1000000\"`"),
        );
        ok = false;
    }
    if let Some(statuses) = &r.statuses {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAlert,
                format!("alert rule `{}` has both `when` and `statuses`", r.name.get()),
            )
            .at(statuses.span())
            .hint("a rule fires on a figure condition (`when`) or on statuses; write two rules for both"),
        );
        ok = false;
    }
    // The figures declared by the services the rule selects.
    let selected: Vec<&str> = ctx
        .raw
        .services
        .iter()
        .filter(|(id, s)| raw_selects(r, kinds, id.get(), s.get()))
        .flat_map(|(_, s)| s.get().metrics.keys().map(|k| k.get().as_str()))
        .collect();
    if let Some(problem) = super::figure_conditions::undeclared(&condition, &selected) {
        ctx.push(
            Diagnostic::error(
                Code::InvalidAlert,
                format!(
                    "{what} reads {}",
                    problem
                        .message
                        .replace("the service does not", "no service of the rule does")
                ),
            )
            .at(text.span())
            .hint(
                problem
                    .hint
                    .replace("the service's figures", "the figures of its services"),
            ),
        );
        ok = false;
    }
    ok.then_some(condition)
}

/// [`AlertRule::selects`] on the raw manifest.
fn raw_selects(
    r: &RawAlertRule,
    kinds: &[ServiceKind],
    id: &str,
    s: &crate::manifest::raw::RawService,
) -> bool {
    let all =
        r.services.is_empty() && r.groups.is_empty() && r.tags.is_empty() && r.kinds.is_empty();
    all || r.services.iter().any(|x| x.get() == id)
        || s.group
            .as_ref()
            .is_some_and(|g| r.groups.iter().any(|x| x.get() == g.get()))
        || s.tags.iter().any(|t| r.tags.iter().any(|x| x.get() == t))
        || kinds.contains(&s.kind.unwrap_or_default())
}

fn maintenance(ctx: &mut Ctx<'_>, spanned: &Spanned<RawMaintenance>) -> Option<Maintenance> {
    let m = spanned.get();
    let name = m.name.get();
    let what = |key: &str| format!("`{key}` of maintenance `{name}`");
    for s in &m.services {
        reference(
            ctx,
            s,
            &what("services"),
            "service",
            ctx.raw.services.keys().map(|k| k.get().as_str()).collect(),
        );
    }
    for g in &m.groups {
        reference(
            ctx,
            g,
            &what("groups"),
            "group",
            ctx.raw.groups.keys().map(|k| k.get().as_str()).collect(),
        );
    }
    let window = match (&m.cron, &m.start) {
        (Some(cron), None) => {
            if let Some(end) = &m.end {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidMaintenance,
                        format!("{} is only read with `start`", what("end")),
                    )
                    .at(end.span())
                    .hint("a `cron` window lasts `duration`; remove `end`"),
                );
            }
            let expression = match cron.get().parse::<croner::Cron>() {
                Ok(_) => Some(cron.get().trim().to_owned()),
                Err(e) => {
                    ctx.push(
                        Diagnostic::error(Code::InvalidMaintenance, format!("{} is not a cron expression: {e}", what("cron")))
                            .at(cron.span())
                            .hint("write five fields (`min hour day month weekday`) or six with seconds first: `0 0 2 * * SUN`"),
                    );
                    None
                }
            };
            let timezone = match &m.timezone {
                None => Some(None),
                Some(tz) => match tz.get().trim().parse::<chrono_tz::Tz>() {
                    Ok(zone) => Some(Some(zone.name().to_owned())),
                    Err(_) => {
                        ctx.push(
                            Diagnostic::error(
                                Code::InvalidMaintenance,
                                format!(
                                    "{} is `{}`, which is not an IANA time zone",
                                    what("timezone"),
                                    tz.get()
                                ),
                            )
                            .at(tz.span())
                            .hint("write an IANA name such as `Europe/Berlin` or `UTC`"),
                        );
                        None
                    }
                },
            };
            let duration = match &m.duration {
                Some(d) => duration(ctx, Code::InvalidMaintenance, d, &what("duration")),
                None => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidMaintenance,
                            format!("maintenance `{name}` has `cron` but no `duration`"),
                        )
                        .at(cron.span())
                        .hint("add `duration = \"2h\"`: how long each window lasts"),
                    );
                    None
                }
            };
            Some(MaintenanceWindow::Cron {
                expression: expression?,
                timezone: timezone?,
                duration: duration?,
            })
        }
        (None, Some(start)) => {
            if let Some(d) = &m.duration {
                ctx.push(
                    Diagnostic::error(
                        Code::InvalidMaintenance,
                        format!("{} is only read with `cron`", what("duration")),
                    )
                    .at(d.span())
                    .hint("a fixed window ends at `end`; remove `duration`"),
                );
            }
            let start_at = instant(ctx, start, &what("start"));
            let end_at = match &m.end {
                Some(end) => instant(ctx, end, &what("end")),
                None => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidMaintenance,
                            format!("maintenance `{name}` has `start` but no `end`"),
                        )
                        .at(start.span())
                        .hint("add `end = \"2026-12-25T02:00:00Z\"`"),
                    );
                    None
                }
            };
            match (start_at, end_at) {
                (Some(s), Some(e)) if e <= s => {
                    ctx.push(
                        Diagnostic::error(
                            Code::InvalidMaintenance,
                            format!("maintenance `{name}` ends before it starts"),
                        )
                        .at(m.end.as_ref().map_or_else(|| start.span(), Spanned::span))
                        .related(start.span(), "`start` is here")
                        .hint("make `end` later than `start`"),
                    );
                    None
                }
                (Some(start), Some(end)) => Some(MaintenanceWindow::Fixed { start, end }),
                _ => None,
            }
        }
        (Some(cron), Some(start)) => {
            ctx.push(
                Diagnostic::error(Code::InvalidMaintenance, format!("maintenance `{name}` has both `cron` and `start`"))
                    .at(start.span())
                    .related(cron.span(), "`cron` is set here")
                    .hint("a window repeats (`cron` + `duration`) or happens once (`start` + `end`); keep one"),
            );
            None
        }
        (None, None) => {
            ctx.push(
                Diagnostic::error(Code::InvalidMaintenance, format!("maintenance `{name}` has no time"))
                    .at(m.name.span())
                    .hint("add `cron = \"0 0 2 * * SUN\"` with `duration = \"1h\"`, or `start` and `end` (RFC 3339)"),
            );
            None
        }
    };
    Some(Maintenance {
        name: name.clone(),
        services: m.services.iter().map(|s| s.get().clone()).collect(),
        groups: m.groups.iter().map(|s| s.get().clone()).collect(),
        tags: m.tags.iter().map(|s| s.get().clone()).collect(),
        window: window?,
    })
}

/// An RFC 3339 time, as Unix milliseconds.
fn instant(ctx: &mut Ctx<'_>, text: &Spanned<String>, what: &str) -> Option<i64> {
    match humantime::parse_rfc3339_weak(text.get().trim()) {
        Ok(t) => t
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_millis()).ok()),
        Err(e) => {
            ctx.push(
                Diagnostic::error(
                    Code::InvalidMaintenance,
                    format!("{what} `{}` is not a time: {e}", text.get()),
                )
                .at(text.span())
                .hint("write an RFC 3339 time in UTC: `2026-12-24T22:00:00Z`"),
            );
            None
        }
    }
}

fn service_kinds(ctx: &mut Ctx<'_>, words: &[Spanned<String>], what: &str) -> Vec<ServiceKind> {
    let mut kinds = Vec::new();
    for w in words {
        match serde_json::from_value::<ServiceKind>(serde_json::Value::String(w.get().clone())) {
            Ok(kind) => kinds.push(kind),
            Err(_) => ctx.push(
                Diagnostic::error(Code::InvalidAlert, format!("{what} holds `{}`, which is not a service kind", w.get()))
                    .at(w.span())
                    .hint("the kinds are `service`, `dashboard`, `mcp-server`, `hub`, `workflow-engine`, `database`, `cache`, `message-queue`, `load-balancer`, `monitoring`"),
            ),
        }
    }
    kinds
}

fn notifier_ref(ctx: &mut Ctx<'_>, n: &Spanned<String>, what: &str) {
    let known = ctx.raw.notifiers.keys().map(|k| k.get().as_str()).collect();
    reference(ctx, n, what, "notifier", known);
}

pub(super) fn reference(
    ctx: &mut Ctx<'_>,
    r: &Spanned<String>,
    what: &str,
    noun: &str,
    known: Vec<&str>,
) {
    if known.contains(&r.get().as_str()) {
        return;
    }
    let d = Diagnostic::error(
        Code::UnknownReference,
        format!("{what} names `{}`, which is not a {noun}", r.get()),
    )
    .at(r.span());
    ctx.push(match did_you_mean(r.get(), known.iter().copied()) {
        Some(close) => d.hint(format!("did you mean `{close}`?")),
        None if noun == "notifier" => d.hint(format!("define it under `[notifiers.{}]`", r.get())),
        None => d.hint(format!("use the id of a {noun} defined in the manifest")),
    });
}

pub(super) fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

//! Redaction: which parts of the model are secrets, the model with every secret shown as
//! [`MASK`] (the [`Redact`] trait), and [`Secrets`], the secret values of a catalog, to mask
//! wherever they turn up in free text (process output, probe messages, events).
//!
//! The rules (`docs/security.md` lists them for users):
//! - a URL keeps its scheme, user, host, path and parameter names; the password of its
//!   userinfo and the values of parameters whose names look secret ([`is_secret_name`]) become
//!   `***` ([`redact_url`]); URLs inside free text are found and redacted the same way
//!   ([`redact_text`]);
//! - every `env` value becomes `***` (keys kept): whether a value is a secret cannot be known;
//! - a header value becomes `***` unless its name is one of a short list known to carry no
//!   credential ([`is_public_header`]: `Accept`, `Content-Type`, `User-Agent`...);
//! - a check `body` becomes `***` (it may hold a login);
//! - in a command line, `NAME=VALUE` with a secret-looking name, `--secret-flag=VALUE` and the
//!   argument after `--secret-flag` become `***` ([`redact_args`]);
//! - a `metadata` string under a secret-looking key becomes `***`, others get [`redact_text`].
//!
//! Adding a kind that holds secrets (task actions with headers or an environment) is one
//! `impl Redact` that calls these functions, and one arm in [`Secrets::of`] that collects its
//! values. This module does not decide who may see raw values: the server does.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use indexmap::IndexMap;

use crate::model::{
    Action, BrowserTarget, Catalog, Check, CheckTarget, CompareAction, CompareTarget, ExecAction,
    HttpAction, Notifier, RoundTrip, Service, Step, Task,
};

/// What a secret is shown as.
pub const MASK: &str = "***";

/// Secret values shorter than this are not masked in free text (masking every `1` of a log
/// line would hide everything and protect nothing).
pub const MIN_SECRET_LEN: usize = 4;

/// Parts of a name (lowercased, `-`, `_` and `.` removed) that make it look secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "passw",
    "pwd",
    "pass",
    "key",
    "auth",
    "credential",
    "signature",
    "session",
    "cookie",
    "private",
    "jwt",
    "bearer",
    "dsn",
];

/// Headers whose values are shown: they carry no credential.
const PUBLIC_HEADERS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "content-encoding",
    "content-language",
    "content-length",
    "content-type",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "origin",
    "pragma",
    "referer",
    "user-agent",
    "x-requested-with",
];

/// Whether a name (of an environment variable, query parameter, flag, metadata key) looks like
/// it holds a secret: it contains `token`, `secret`, `pass`, `pwd`, `key`, `auth`,
/// `credential`, `signature`, `session`, `cookie`, `private`, `jwt`, `bearer` or `dsn`, in any
/// case, ignoring `-`, `_` and `.`.
pub fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_WORDS.iter().any(|word| folded.contains(word))
}

/// Whether a header's value is shown as it is (a short list of headers that carry no
/// credential); every other header's value is a secret.
pub fn is_public_header(name: &str) -> bool {
    PUBLIC_HEADERS
        .iter()
        .any(|public| public.eq_ignore_ascii_case(name.trim()))
}

/// The parts of a URL that are secrets: the userinfo password and the values of
/// secret-looking query parameters, as written (byte ranges of `url`).
fn secret_ranges(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let Some(scheme_end) = url.find("://") else {
        return ranges;
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
        && colon + 1 < at
    {
        ranges.push(authority_start + colon + 1..authority_start + at);
    }
    if let Some(query) = url.find('?') {
        let end = url[query..].find('#').map_or(url.len(), |i| query + i);
        let mut start = query + 1;
        for pair in url[query + 1..end].split('&') {
            if let Some(eq) = pair.find('=') {
                let name = &pair[..eq];
                if eq + 1 < pair.len() && is_secret_name(&percent_decode(name)) {
                    ranges.push(start + eq + 1..start + pair.len());
                }
            }
            start += pair.len() + 1;
        }
    }
    ranges
}

/// `text` with the byte `ranges` (in order, disjoint) replaced by [`MASK`].
fn mask_ranges<'a>(text: &'a str, ranges: &[std::ops::Range<usize>]) -> Cow<'a, str> {
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in ranges {
        out.push_str(&text[last..range.start]);
        out.push_str(MASK);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// A URL with its userinfo password and the values of its secret-looking query parameters
/// shown as `***` (`amqp://guest:***@localhost:5672`, `https://h/x?api_key=***&page=2`). The
/// rest stays as written; a text that is not a URL comes back unchanged.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    mask_ranges(url, &secret_ranges(url))
}

/// Free text with every URL in it redacted as [`redact_url`] does. A URL starts at its scheme
/// (`letters://`) and ends at white space or a quote, bracket or `<>`.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    mask_ranges(text, &text_ranges(text))
}

/// The secret parts of the URLs inside `text` (byte ranges, in order).
fn text_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let marker = from + found;
        let start = text[..marker]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = text[marker..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')'))
            .map_or(text.len(), |i| marker + i);
        if start < marker {
            for range in secret_ranges(&text[start..end]) {
                ranges.push(start + range.start..start + range.end);
            }
        }
        from = end.max(marker + 3);
    }
    ranges
}

/// Every value shown as `***`, the keys kept (an `env` table).
pub fn redact_env(env: &IndexMap<String, String>) -> IndexMap<String, String> {
    env.keys()
        .map(|key| (key.clone(), MASK.to_owned()))
        .collect()
}

/// Header values shown as `***`, but for [`is_public_header`] names; the names kept.
pub fn redact_headers(headers: &IndexMap<String, String>) -> IndexMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if is_public_header(name) {
                value.clone()
            } else {
                MASK.to_owned()
            };
            (name.clone(), value)
        })
        .collect()
}

/// Whether an argument is a flag whose name looks secret (`--password`, `-token`).
fn secret_flag(arg: &str) -> bool {
    arg.starts_with('-') && is_secret_name(arg.trim_start_matches('-'))
}

/// A command line with its secrets shown as `***`: the value of `NAME=VALUE` and
/// `--flag=VALUE` when the name looks secret, the argument after a secret-looking flag
/// (`--password hunter2`), and URL credentials anywhere.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut after_flag = false;
    for arg in args {
        if std::mem::take(&mut after_flag) && !arg.starts_with('-') {
            out.push(MASK.to_owned());
            continue;
        }
        if let Some((name, _)) = arg.split_once('=')
            && is_secret_name(name.trim_start_matches('-'))
        {
            out.push(format!("{name}={MASK}"));
            continue;
        }
        after_flag = secret_flag(arg);
        out.push(redact_text(arg).into_owned());
    }
    out
}

/// The secrets of `args` as [`redact_args`] finds them.
fn arg_secrets(args: &[String], found: &mut Vec<String>) {
    let mut after_flag = false;
    for arg in args {
        if std::mem::take(&mut after_flag) && !arg.starts_with('-') {
            found.push(arg.clone());
            continue;
        }
        if let Some((name, value)) = arg.split_once('=')
            && is_secret_name(name.trim_start_matches('-'))
        {
            found.push(value.to_owned());
            continue;
        }
        after_flag = secret_flag(arg);
        text_secrets(arg, found);
    }
}

/// The URL secrets inside `text` (passwords, secret parameter values), as written and
/// percent-decoded.
/// The values of secret-named variables, and the secrets inside any value.
fn env_secrets(env: &IndexMap<String, String>, found: &mut Vec<String>) {
    for (name, value) in env {
        if is_secret_name(name) {
            found.push(value.clone());
        }
        text_secrets(value, found);
    }
}

/// The values of headers that are not known to be harmless, and the credential after a scheme
/// (`Bearer abc` gives `abc` too).
fn header_secrets(headers: &IndexMap<String, String>, found: &mut Vec<String>) {
    for (name, value) in headers {
        if !is_public_header(name) {
            found.push(value.clone());
            if let Some((_, credential)) = value.trim().split_once(' ') {
                found.push(credential.trim().to_owned());
            }
        }
    }
}

fn text_secrets(text: &str, found: &mut Vec<String>) {
    for range in text_ranges(text) {
        let secret = &text[range];
        found.push(percent_decode(secret).into_owned());
        found.push(secret.to_owned());
    }
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            // Two hex digits make one byte.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A JSON value (a tool's arguments, a request body) with secrets shown as `***`: strings
/// and numbers under secret-looking keys whole, URL credentials in other strings, as for
/// `metadata`.
pub fn redact_json(value: &serde_json::Value) -> serde_json::Value {
    redact_metadata("", value)
}

/// A metadata value with secrets shown as `***`: strings under secret-looking keys whole,
/// URLs in other strings.
fn redact_metadata(key: &str, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(_) | Value::Number(_) if is_secret_name(key) => Value::from(MASK),
        Value::String(text) => Value::from(redact_text(text).into_owned()),
        Value::Array(items) => items.iter().map(|v| redact_metadata(key, v)).collect(),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_metadata(k, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The secrets of a metadata value, as [`redact_metadata`] finds them.
fn metadata_secrets(key: &str, value: &serde_json::Value, found: &mut Vec<String>) {
    use serde_json::Value;
    match value {
        Value::String(text) if is_secret_name(key) => found.push(text.clone()),
        Value::Number(n) if is_secret_name(key) => found.push(n.to_string()),
        Value::String(text) => text_secrets(text, found),
        Value::Array(items) => items.iter().for_each(|v| metadata_secrets(key, v, found)),
        Value::Object(map) => map.iter().for_each(|(k, v)| metadata_secrets(k, v, found)),
        _ => {}
    }
}

/// A part of the model that may hold secrets, and the same part with them shown as `***`.
pub trait Redact {
    /// A copy with every secret shown as [`MASK`] (names and keys kept).
    #[must_use]
    fn redacted(&self) -> Self;
}

impl Redact for CheckTarget {
    fn redacted(&self) -> CheckTarget {
        let url = |u: &String| redact_url(u).into_owned();
        match self {
            CheckTarget::Http(u) => CheckTarget::Http(url(u)),
            CheckTarget::Postgres(u) => CheckTarget::Postgres(url(u)),
            CheckTarget::Redis(u) => CheckTarget::Redis(url(u)),
            CheckTarget::Amqp(u) => CheckTarget::Amqp(url(u)),
            CheckTarget::Mcp(u) => CheckTarget::Mcp(url(u)),
            CheckTarget::Exec(args) => CheckTarget::Exec(redact_args(args)),
            CheckTarget::Browser(browser) => CheckTarget::Browser(BrowserTarget {
                url: url(&browser.url),
                steps: browser
                    .steps
                    .iter()
                    .map(|step| match step {
                        Step::Goto { url: u } => Step::Goto { url: url(u) },
                        Step::Fill { selector, .. } => Step::Fill {
                            selector: selector.clone(),
                            value: MASK.to_owned(),
                        },
                        other => other.clone(),
                    })
                    .collect(),
                ..browser.clone()
            }),
            CheckTarget::Compare(compare) => CheckTarget::Compare(CompareTarget {
                original: url(&compare.original),
                replica: url(&compare.replica),
                ..compare.clone()
            }),
            CheckTarget::Nats(r) => CheckTarget::Nats(RoundTrip {
                url: url(&r.url),
                ..r.clone()
            }),
            CheckTarget::Mqtt(r) => CheckTarget::Mqtt(RoundTrip {
                url: url(&r.url),
                ..r.clone()
            }),
            CheckTarget::AmqpRoundTrip(r) => CheckTarget::AmqpRoundTrip(RoundTrip {
                url: url(&r.url),
                ..r.clone()
            }),
            CheckTarget::Tcp(_) | CheckTarget::Tls(_) | CheckTarget::Dns(_) => self.clone(),
            CheckTarget::Push(_) => self.clone(),
        }
    }
}

impl Redact for Check {
    fn redacted(&self) -> Check {
        Check {
            target: self.target.redacted(),
            headers: redact_headers(&self.headers),
            body: self.body.as_ref().map(|_| MASK.to_owned()),
            ..self.clone()
        }
    }
}

impl Redact for Service {
    fn redacted(&self) -> Service {
        let mut service = self.clone();
        service.env = redact_env(&self.env);
        service.command = self.command.as_deref().map(redact_args);
        if let Some(process) = &mut service.process {
            process.command = redact_args(&process.command);
        }
        service.metadata = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), redact_metadata(k, v)))
            .collect();
        service.check = self.check.as_ref().map(Check::redacted);
        for figure in &mut service.figures {
            match &mut figure.source {
                crate::model::FigureSource::Prometheus { url, .. }
                | crate::model::FigureSource::Json { url, .. } => {
                    *url = redact_url(url).into_owned();
                }
            }
        }
        if let Some(workflows) = &mut service.workflows {
            // A literal credential is a secret; a `${NAME}` reference is not.
            for value in [&mut workflows.api_key, &mut workflows.token]
                .into_iter()
                .flatten()
            {
                if !crate::validate::is_env_reference(value) {
                    *value = MASK.to_owned();
                }
            }
        }
        service
    }
}

impl Redact for Action {
    fn redacted(&self) -> Action {
        match self {
            Action::Http(http) => Action::Http(HttpAction {
                url: redact_url(&http.url).into_owned(),
                headers: redact_headers(&http.headers),
                body: http.body.as_ref().map(|_| MASK.to_owned()),
                ..http.clone()
            }),
            Action::Exec(exec) => Action::Exec(ExecAction {
                argv: redact_args(&exec.argv),
                env: redact_env(&exec.env),
                ..exec.clone()
            }),
            Action::Compare(compare) => Action::Compare(CompareAction {
                original: redact_url(&compare.original).into_owned(),
                replica: redact_url(&compare.replica).into_owned(),
                ..compare.clone()
            }),
            // Like an `http` body, the data sent to a workflow may hold a secret: its keys stay.
            Action::Workflow(workflow) => Action::Workflow(crate::model::WorkflowAction {
                data: workflow
                    .data
                    .keys()
                    .map(|k| (k.clone(), serde_json::Value::from(MASK)))
                    .collect(),
                ..workflow.clone()
            }),
            Action::Check(_)
            | Action::Report(_)
            | Action::Restart(_)
            | Action::Start(_)
            | Action::Stop(_)
            | Action::RetryFailed(_)
            | Action::External => self.clone(),
        }
    }
}

impl Redact for Task {
    fn redacted(&self) -> Task {
        Task {
            action: self.action.as_ref().map(Action::redacted),
            ..self.clone()
        }
    }
}

/// A notifier's secret-bearing value as shown: an `${ENV}` reference as written (it names the
/// variable, not the secret), anything else masked whole (a webhook URL is its own credential).
fn notifier_value(value: &str) -> String {
    if crate::validate::is_env_reference(value) {
        value.to_owned()
    } else {
        MASK.to_owned()
    }
}

impl Redact for Notifier {
    fn redacted(&self) -> Notifier {
        Notifier {
            url: self.url.as_deref().map(notifier_value),
            secret: self.secret.as_deref().map(notifier_value),
            token: self.token.as_deref().map(notifier_value),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), notifier_value(v)))
                .collect(),
            password: self.password.as_deref().map(notifier_value),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), notifier_value(v)))
                .collect(),
            ..self.clone()
        }
    }
}

impl Redact for Catalog {
    fn redacted(&self) -> Catalog {
        Catalog {
            inputs: self
                .inputs
                .iter()
                .map(|(id, input)| {
                    let url = redact_url(&input.url).into_owned();
                    (
                        id.clone(),
                        crate::model::Input {
                            url,
                            ..input.clone()
                        },
                    )
                })
                .collect(),
            notifiers: self
                .notifiers
                .iter()
                .map(|(id, n)| (id.clone(), n.redacted()))
                .collect(),
            services: self
                .services
                .iter()
                .map(|(id, s)| (id.clone(), s.redacted()))
                .collect(),
            tasks: self.tasks.iter().map(Task::redacted).collect(),
            store: self.store.as_ref().map(crate::store::StoreConfig::redacted),
            outputs: self
                .outputs
                .iter()
                .map(|(id, o)| {
                    let output = crate::model::Output {
                        url: redact_url(&o.url).into_owned(),
                        headers: redact_headers(&o.headers),
                        ..o.clone()
                    };
                    (id.clone(), output)
                })
                .collect(),
            ..self.clone()
        }
    }
}

/// The secret values of a catalog, to mask in free text that may repeat them (a process
/// printing its `DATABASE_PASSWORD`, an error quoting a URL). Cheap to clone and to share.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl Secrets {
    /// The secrets of `catalog`: the values of `env` entries with secret-looking names, the
    /// values of non-public check headers (and the credential after their scheme, as in
    /// `Bearer <credential>`), passwords and secret parameters of every URL (check targets,
    /// `env` values, metadata, task URLs; as written and percent-decoded), secret arguments of
    /// commands and `exec` checks, and metadata strings under secret-looking keys. Values
    /// shorter than [`MIN_SECRET_LEN`] are left out.
    pub fn of(catalog: &Catalog) -> Secrets {
        let mut found = Vec::new();
        for service in catalog.services.values() {
            env_secrets(&service.env, &mut found);
            if let Some(command) = &service.command {
                arg_secrets(command, &mut found);
            }
            for (key, value) in &service.metadata {
                metadata_secrets(key, value, &mut found);
            }
            if let Some(check) = &service.check {
                header_secrets(&check.headers, &mut found);
                match &check.target {
                    CheckTarget::Exec(args) => arg_secrets(args, &mut found),
                    CheckTarget::Http(u)
                    | CheckTarget::Postgres(u)
                    | CheckTarget::Redis(u)
                    | CheckTarget::Amqp(u)
                    | CheckTarget::Mcp(u) => text_secrets(u, &mut found),
                    CheckTarget::Browser(browser) => {
                        text_secrets(&browser.url, &mut found);
                        // `fill` values from `${NAME}` are masked by the probe itself.
                        for step in &browser.steps {
                            if let Step::Goto { url } = step {
                                text_secrets(url, &mut found);
                            }
                        }
                    }
                    CheckTarget::Compare(compare) => {
                        text_secrets(&compare.original, &mut found);
                        text_secrets(&compare.replica, &mut found);
                    }
                    CheckTarget::Nats(r) | CheckTarget::Mqtt(r) | CheckTarget::AmqpRoundTrip(r) => {
                        text_secrets(&r.url, &mut found);
                    }
                    CheckTarget::Tcp(_) | CheckTarget::Tls(_) | CheckTarget::Dns(_) => {}
                    CheckTarget::Push(_) => {}
                }
            }
        }
        for task in &catalog.tasks {
            match &task.action {
                Some(Action::Http(http)) => {
                    text_secrets(&http.url, &mut found);
                    header_secrets(&http.headers, &mut found);
                }
                Some(Action::Exec(exec)) => {
                    arg_secrets(&exec.argv, &mut found);
                    env_secrets(&exec.env, &mut found);
                }
                Some(_) | None => {}
            }
        }
        for notifier in catalog.notifiers.values() {
            let values = [
                &notifier.url,
                &notifier.secret,
                &notifier.token,
                &notifier.password,
            ];
            let literal = values
                .into_iter()
                .flatten()
                .chain(notifier.headers.values())
                .chain(notifier.env.values())
                .filter(|v| !crate::validate::is_env_reference(v));
            found.extend(literal.cloned());
        }
        Secrets::from_values(found)
    }

    /// Secrets given as values (those shorter than [`MIN_SECRET_LEN`] are left out).
    pub fn from_values(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_SECRET_LEN && v != MASK)
            .collect();
        values.sort_unstable();
        values.dedup();
        let matcher = (!values.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&values)
                    .ok()
            })
            .flatten();
        Secrets { values, matcher }
    }

    /// How many distinct secret values there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every occurrence of a secret value shown as `***`, and the credentials of
    /// any URL in it too ([`redact_text`]).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let masked = match &self.matcher {
            Some(matcher) if matcher.is_match(text) => {
                Cow::Owned(matcher.replace_all(text, &vec![MASK; self.values.len()]))
            }
            _ => Cow::Borrowed(text),
        };
        match masked {
            Cow::Borrowed(text) => redact_text(text),
            Cow::Owned(text) => Cow::Owned(redact_text(&text).into_owned()),
        }
    }

    /// Every string of a JSON value (keys excepted) scrubbed as [`Secrets::scrub`] does.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.scrub(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_and_secret_parameters_only() {
        let cases = [
            (
                "amqp://guest:guest@localhost:5672",
                "amqp://guest:***@localhost:5672",
            ),
            ("redis://:hunter22@r:6379/0", "redis://:***@r:6379/0"),
            ("postgres://app@db/test", "postgres://app@db/test"),
            (
                "https://h/x?api_key=abc&page=2&Access-Token=t#frag",
                "https://h/x?api_key=***&page=2&Access-Token=***#frag",
            ),
            ("https://u:p%40ss@h/?q=1", "https://u:***@h/?q=1"),
            ("localhost:5432", "localhost:5432"),
            ("not a url", "not a url"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn urls_inside_text_are_found() {
        assert_eq!(
            redact_text("error for url (http://bob:s3cret@h:80/x?token=zz): refused"),
            "error for url (http://bob:***@h:80/x?token=***): refused"
        );
        assert_eq!(
            redact_text("a \"redis://:pw12@h\" and amqp://u:v@h"),
            "a \"redis://:***@h\" and amqp://u:***@h"
        );
        assert_eq!(redact_text("://nothing"), "://nothing");
    }

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "API_KEY",
            "github-token",
            "DB_PASSWORD",
            "pwd",
            "Authorization",
            "sessionId",
            "SENTRY_DSN",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PORT", "RUST_LOG", "page", "HOST"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn headers_are_masked_but_for_public_ones() {
        let headers: IndexMap<String, String> = [
            ("Authorization", "Bearer abc"),
            ("X-Api-Key", "k"),
            ("X-Custom", "v"),
            ("Accept", "application/json"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let redacted = redact_headers(&headers);
        let values: Vec<&str> = redacted.values().map(String::as_str).collect();
        assert_eq!(values, ["***", "***", "***", "application/json"]);
        assert!(redacted.contains_key("Authorization"));
    }

    #[test]
    fn command_lines_lose_secret_arguments() {
        let args: Vec<String> = [
            "psql",
            "--password",
            "pw1234",
            "--token=t0k3n",
            "PGPASSWORD=x",
            "--host",
            "db",
            "postgres://u:p@h/d",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            redact_args(&args),
            [
                "psql",
                "--password",
                "***",
                "--token=***",
                "PGPASSWORD=***",
                "--host",
                "db",
                "postgres://u:***@h/d"
            ]
        );
        let mut found = Vec::new();
        arg_secrets(&args, &mut found);
        assert_eq!(found, ["pw1234", "t0k3n", "x", "p", "p"]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_redacted_without_panic_and_loses_url_passwords(
            before in "\\PC{0,20}",
            password in "[a-zA-Z0-9é_]{4,12}",
            after in "\\PC{0,20}",
        ) {
            let text = format!("{before} x://u:{password}@h/p {after}");
            let _ = redact_url(&text);
            let redacted = redact_text(&text);
            let secrets = Secrets::from_values([password.clone()]);
            let scrubbed = secrets.scrub(&text);
            proptest::prop_assert!(!scrubbed.contains(&password), "{}", scrubbed);
            proptest::prop_assert!(redacted.contains("x://u:***@h/p"), "{}", redacted);
        }
    }

    #[test]
    fn multibyte_text_around_urls_is_cut_at_character_boundaries() {
        assert_eq!(redact_text("é://u:p@h"), "é://u:p@h");
        assert_eq!(redact_text("日本http://u:pw@h"), "日本http://u:***@h");
    }

    #[test]
    fn secrets_are_masked_in_free_text_longest_first() {
        let secrets = Secrets::from_values(["hunter22".into(), "hunter2233".into(), "ab".into()]);
        assert_eq!(secrets.len(), 2, "values shorter than 4 bytes are left out");
        assert_eq!(
            secrets.scrub("pw=hunter2233 then hunter22, ab"),
            "pw=*** then ***, ab"
        );
        assert!(matches!(secrets.scrub("nothing here"), Cow::Borrowed(_)));
        let mut json = serde_json::json!({"a": ["x hunter22 y", 3], "hunter22": null});
        secrets.scrub_json(&mut json);
        assert_eq!(
            json,
            serde_json::json!({"a": ["x *** y", 3], "hunter22": null})
        );
    }
}

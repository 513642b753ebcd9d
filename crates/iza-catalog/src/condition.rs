//! Defines [`Condition`]: one health-check condition in Gatus's syntax (`[STATUS] == 200`,
//! `[BODY].data[0].state == UP`, `len([BODY].items) > 0`, `[STATUS] == any(200, 204)`,
//! `[CERTIFICATE_EXPIRATION] > 48h`), plus IZA's `[METRIC].<figure>` (a service's latest
//! business figure), parsed once when the manifest is compiled.
//!
//! Parsing lives here so `iza check` can point at a malformed condition; evaluating a
//! condition against a probe's result is the probe's job.

use std::fmt;

use serde::Serialize;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// True for `<`, `<=`, `>`, `>=`, which compare numbers.
    pub fn is_ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

/// A value a probe reports, named in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Placeholder {
    /// HTTP status code.
    Status,
    /// Response time in milliseconds.
    ResponseTime,
    /// The response body (with an optional path into JSON).
    Body,
    /// Whether a connection was established.
    Connected,
    /// Time until the TLS certificate expires.
    CertificateExpiration,
    /// The DNS response code (`NOERROR`, `NXDOMAIN`, ...).
    DnsRcode,
    /// The IP address resolved or connected to.
    Ip,
    /// Browser: milliseconds from the start of navigation to the load event.
    LoadTime,
    /// Browser: Largest Contentful Paint, in milliseconds.
    Lcp,
    /// Browser: Cumulative Layout Shift (a score, 0 when nothing moved).
    Cls,
    /// Browser: time to the first byte of the page, in milliseconds.
    Ttfb,
    /// Browser: how many `console.error` calls the page made.
    ConsoleErrors,
    /// Browser: how many uncaught exceptions the page threw.
    PageErrors,
    /// Browser: the page's visible text.
    Text,
    /// Browser: the page's title.
    Title,
    /// Browser: how many requests of the page failed (network error or status >= 400).
    RequestsFailed,
    /// Compare: the percentage of pixels that differ between the two screenshots (0–100).
    PixelDiff,
    /// Compare: how similar the two pages' visible texts are, in percent (100 = same words).
    TextSimilarity,
    /// Compare: how many links of the original the replica does not have.
    MissingLinks,
    /// `mcp`: how many tools the server lists.
    ToolCount,
    /// `mcp`: the tools the server lists (`[TOOLS].name` is one of them, for `has()`).
    Tools,
    /// `mcp`: the protocol revision spoken (`2026-07-28` for the stateless generation).
    ProtocolVersion,
    /// Round-trip checks (`nats`, `mqtt`, `amqp` with `round_trip`): milliseconds from
    /// publishing the probe message to receiving it back.
    RoundTrip,
    /// `[METRIC].<figure>`: the service's latest value of one of its business figures
    /// (`docs/metrics.md`), whatever the check's kind.
    Metric,
}

impl Placeholder {
    const ALL: &'static [(&'static str, Placeholder)] = &[
        ("STATUS", Placeholder::Status),
        ("RESPONSE_TIME", Placeholder::ResponseTime),
        ("BODY", Placeholder::Body),
        ("CONNECTED", Placeholder::Connected),
        ("CERTIFICATE_EXPIRATION", Placeholder::CertificateExpiration),
        ("DNS_RCODE", Placeholder::DnsRcode),
        ("IP", Placeholder::Ip),
        ("LOAD_TIME", Placeholder::LoadTime),
        ("LCP", Placeholder::Lcp),
        ("CLS", Placeholder::Cls),
        ("TTFB", Placeholder::Ttfb),
        ("CONSOLE_ERRORS", Placeholder::ConsoleErrors),
        ("PAGE_ERRORS", Placeholder::PageErrors),
        ("TEXT", Placeholder::Text),
        ("TITLE", Placeholder::Title),
        ("REQUESTS_FAILED", Placeholder::RequestsFailed),
        ("PIXEL_DIFF", Placeholder::PixelDiff),
        ("TEXT_SIMILARITY", Placeholder::TextSimilarity),
        ("MISSING_LINKS", Placeholder::MissingLinks),
        ("TOOL_COUNT", Placeholder::ToolCount),
        ("TOOLS", Placeholder::Tools),
        ("PROTOCOL_VERSION", Placeholder::ProtocolVersion),
        ("ROUND_TRIP", Placeholder::RoundTrip),
        ("METRIC", Placeholder::Metric),
    ];

    /// Whether only a browser check reports it.
    pub fn is_browser_only(self) -> bool {
        matches!(
            self,
            Placeholder::LoadTime
                | Placeholder::Lcp
                | Placeholder::Cls
                | Placeholder::Ttfb
                | Placeholder::ConsoleErrors
                | Placeholder::PageErrors
                | Placeholder::Text
                | Placeholder::Title
                | Placeholder::RequestsFailed
        )
    }

    /// Whether only a comparison (`compare`) reports it.
    pub fn is_compare_only(self) -> bool {
        matches!(
            self,
            Placeholder::PixelDiff | Placeholder::TextSimilarity | Placeholder::MissingLinks
        )
    }

    /// Whether only `mcp` checks report this value.
    pub fn is_mcp_only(self) -> bool {
        matches!(
            self,
            Placeholder::ToolCount | Placeholder::Tools | Placeholder::ProtocolVersion
        )
    }

    /// Whether only round-trip checks report this value.
    pub fn is_round_trip_only(self) -> bool {
        self == Placeholder::RoundTrip
    }

    /// Whether it reads a business figure (`[METRIC].<figure>`) rather than what the probe saw.
    pub fn is_figure(self) -> bool {
        self == Placeholder::Metric
    }

    /// The placeholder's name, without brackets.
    pub fn name(self) -> &'static str {
        Placeholder::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| n)
    }
}

/// One step of a path into a JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PathStep {
    /// `.key`
    Key(String),
    /// `[3]`
    Index(usize),
}

/// A placeholder and, for `[BODY]`, a path into its JSON (for `[TOOLS]`, one tool name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Value {
    /// Which value.
    pub placeholder: Placeholder,
    /// The path into the body (empty for the whole value).
    pub path: Vec<PathStep>,
}

/// One side of a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Operand {
    /// A probe value: `[STATUS]`, `[BODY].a.b[0]`.
    Value(Value),
    /// `len(value)`: the length of a string, array or object.
    Len(Value),
    /// `has(value)`: whether the path exists (compares with `true`/`false`).
    Has(Value),
    /// `pat(glob)`: a glob pattern with `*` (right side of `==`/`!=` only).
    Pattern(String),
    /// `any(a, b, ...)`: equal to any of the literals (right side of `==`/`!=` only).
    Any(Vec<String>),
    /// A literal: a number, a duration (`48h`), `true`, or a string.
    Literal(String),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The condition as written (trimmed).
    pub text: String,
    /// Left side.
    pub left: Operand,
    /// Operator.
    pub op: Op,
    /// Right side.
    pub right: Operand,
}

impl Condition {
    /// The business figures it reads (`arr` of `[METRIC].arr`), left then right.
    pub fn figures(&self) -> impl Iterator<Item = &str> + '_ {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|side| match side {
                Operand::Value(v) | Operand::Len(v) | Operand::Has(v)
                    if v.placeholder == Placeholder::Metric =>
                {
                    match v.path.as_slice() {
                        [PathStep::Key(name)] => Some(name.as_str()),
                        _ => None,
                    }
                }
                _ => None,
            })
    }

    /// The placeholders it reads, left then right.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        [&self.left, &self.right]
            .into_iter()
            .filter_map(|side| match side {
                Operand::Value(v) | Operand::Len(v) | Operand::Has(v) => Some(v.placeholder),
                _ => None,
            })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a condition does not parse; the message is a full sentence fragment for a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConditionError {
    /// What is wrong.
    pub message: String,
    /// What to do, when there is something specific to say.
    pub hint: Option<String>,
}

fn error(message: impl Into<String>, hint: Option<String>) -> ConditionError {
    ConditionError {
        message: message.into(),
        hint,
    }
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;

    fn from_str(text: &str) -> Result<Condition, ConditionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(error(
                "the condition is empty",
                Some("write a condition such as `[STATUS] == 200`, or remove it".to_owned()),
            ));
        }
        let (at, op) = find_operator(text).ok_or_else(|| {
            error(
                format!("`{text}` has no comparison operator"),
                Some("write `LEFT OPERATOR RIGHT` with one of ==, !=, <, <=, >, >=, for example `[STATUS] == 200`".to_owned()),
            )
        })?;
        let left_text = text[..at].trim();
        let right_text = text[at + op.as_str().len()..].trim();
        if left_text.is_empty() || right_text.is_empty() {
            return Err(error(format!("`{text}` has an empty side"), None));
        }
        let left = operand(left_text)?;
        let right = operand(right_text)?;
        for (side, name) in [(&left, "left"), (&right, "right")] {
            if matches!(side, Operand::Pattern(_) | Operand::Any(_))
                && (name == "left" || op.is_ordering())
            {
                return Err(error(
                    format!("`pat()` and `any()` go on the right of `==` or `!=` (in `{text}`)"),
                    Some("for example `[BODY].state == pat(UP*)`".to_owned()),
                ));
            }
        }
        if op.is_ordering() {
            for side in [&left, &right] {
                if let Operand::Literal(lit) = side
                    && !is_number_or_duration(lit)
                {
                    return Err(error(
                        format!(
                            "`{}` compares `{lit}`, which is not a number or a duration",
                            op.as_str()
                        ),
                        Some(
                            "`<`, `<=`, `>`, `>=` compare numbers (`500`) or durations (`48h`)"
                                .to_owned(),
                        ),
                    ));
                }
            }
        }
        Ok(Condition {
            text: text.to_owned(),
            left,
            op,
            right,
        })
    }
}

/// Whether a literal reads as a number (`200`, `0.5`) or a duration (`48h`, `500ms`).
pub fn is_number_or_duration(literal: &str) -> bool {
    literal.parse::<f64>().is_ok_and(f64::is_finite) || humantime::parse_duration(literal).is_ok()
}

/// The first operator outside brackets and parentheses, longest match first.
fn find_operator(text: &str) -> Option<(usize, Op)> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ if depth == 0 => {
                let two = bytes.get(i..i + 2);
                let op = match (two, bytes[i]) {
                    (Some(b"=="), _) => Some(Op::Eq),
                    (Some(b"!="), _) => Some(Op::Ne),
                    (Some(b"<="), _) => Some(Op::Le),
                    (Some(b">="), _) => Some(Op::Ge),
                    (_, b'<') => Some(Op::Lt),
                    (_, b'>') => Some(Op::Gt),
                    _ => None,
                };
                if let Some(op) = op {
                    return Some((i, op));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn operand(text: &str) -> Result<Operand, ConditionError> {
    if text.starts_with('[') {
        return value(text).map(Operand::Value);
    }
    if let Some((name, args)) = call(text) {
        return match name {
            "len" => value(args).map(Operand::Len),
            "has" => value(args).map(Operand::Has),
            "pat" => Ok(Operand::Pattern(unquote(args).to_owned())),
            "any" => Ok(Operand::Any(
                args.split(',')
                    .map(|a| unquote(a.trim()).to_owned())
                    .collect(),
            )),
            other => Err(error(
                format!("`{other}()` is not a condition function"),
                Some("the functions are `len()`, `has()`, `pat()` and `any()`".to_owned()),
            )),
        };
    }
    Ok(Operand::Literal(unquote(text).to_owned()))
}

/// `name(args)` when the text is a function call.
fn call(text: &str) -> Option<(&str, &str)> {
    let open = text.find('(')?;
    let name = &text[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) || !text.ends_with(')') {
        return None;
    }
    Some((name, &text[open + 1..text.len() - 1]))
}

fn unquote(text: &str) -> &str {
    let t = text.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    t
}

/// Parses `[NAME]` followed by an optional path (`.key`, `[index]`).
fn value(text: &str) -> Result<Value, ConditionError> {
    let text = text.trim();
    let close = text
        .find(']')
        .filter(|_| text.starts_with('['))
        .ok_or_else(|| {
            error(
                format!("`{text}` is not a placeholder such as `[STATUS]`"),
                None,
            )
        })?;
    let name = &text[1..close];
    let placeholder = Placeholder::ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            let names = Placeholder::ALL.iter().map(|(n, _)| *n);
            let hint = match crate::diagnostic::did_you_mean(name, names) {
                Some(close) => format!("did you mean `[{close}]`?"),
                None => format!(
                    "the placeholders are {}",
                    Placeholder::ALL
                        .iter()
                        .map(|(n, _)| format!("`[{n}]`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            error(format!("`[{name}]` is not a placeholder"), Some(hint))
        })?;
    let path = path(&text[close + 1..])?;
    if placeholder == Placeholder::Tools
        && !(path.is_empty() || matches!(path.as_slice(), [PathStep::Key(_)]))
    {
        return Err(error(
            "`[TOOLS]` takes one tool name as its path".to_owned(),
            Some("for example `has([TOOLS].list_services) == true`".to_owned()),
        ));
    }
    if placeholder == Placeholder::Metric && !matches!(path.as_slice(), [PathStep::Key(_)]) {
        return Err(error(
            "`[METRIC]` takes one figure name as its path".to_owned(),
            Some("for example `[METRIC].arr < 1000000`, where `arr` is one of the service's `metrics`".to_owned()),
        ));
    }
    if !path.is_empty()
        && !matches!(
            placeholder,
            Placeholder::Body | Placeholder::Tools | Placeholder::Metric
        )
    {
        return Err(error(
            format!("`[{name}]` takes no path; only `[BODY]`, `[TOOLS]` and `[METRIC]` do"),
            Some("a path reads into a JSON body: `[BODY].data.status`".to_owned()),
        ));
    }
    Ok(Value { placeholder, path })
}

pub(crate) fn path(mut rest: &str) -> Result<Vec<PathStep>, ConditionError> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return Err(error(
                    "a body path has an empty key (`..` or a trailing `.`)",
                    None,
                ));
            }
            steps.push(PathStep::Key(key.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| error("a body path has `[` without `]`", None))?;
            let index = after[..end].trim().parse::<usize>().map_err(|_| {
                error(
                    format!("`[{}]` in a body path is not an index", &after[..end]),
                    None,
                )
            })?;
            steps.push(PathStep::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err(error(
                format!("unexpected `{rest}` after a placeholder"),
                Some("continue a body path with `.key` or `[index]`".to_owned()),
            ));
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(placeholder: Placeholder, path: Vec<PathStep>) -> Value {
        Value { placeholder, path }
    }

    #[test]
    fn parses_gatus_conditions() {
        use Operand::*;
        use PathStep::*;
        let cases: Vec<(&str, Operand, Op, Operand)> = vec![
            (
                "[STATUS] == 200",
                Value(v(Placeholder::Status, vec![])),
                Op::Eq,
                Literal("200".into()),
            ),
            (
                "[RESPONSE_TIME]<500",
                Value(v(Placeholder::ResponseTime, vec![])),
                Op::Lt,
                Literal("500".into()),
            ),
            (
                "[BODY].data[0].status == UP",
                Value(v(
                    Placeholder::Body,
                    vec![Key("data".into()), Index(0), Key("status".into())],
                )),
                Op::Eq,
                Literal("UP".into()),
            ),
            (
                "len([BODY].items) >= 1",
                Len(v(Placeholder::Body, vec![Key("items".into())])),
                Op::Ge,
                Literal("1".into()),
            ),
            (
                "has([BODY].errors) == false",
                Has(v(Placeholder::Body, vec![Key("errors".into())])),
                Op::Eq,
                Literal("false".into()),
            ),
            (
                "[BODY] == pat(*ok*)",
                Value(v(Placeholder::Body, vec![])),
                Op::Eq,
                Pattern("*ok*".into()),
            ),
            (
                "[STATUS] != any(500, 502, 503)",
                Value(v(Placeholder::Status, vec![])),
                Op::Ne,
                Any(vec!["500".into(), "502".into(), "503".into()]),
            ),
            (
                "[CERTIFICATE_EXPIRATION] > 48h",
                Value(v(Placeholder::CertificateExpiration, vec![])),
                Op::Gt,
                Literal("48h".into()),
            ),
            (
                "[CONNECTED] == true",
                Value(v(Placeholder::Connected, vec![])),
                Op::Eq,
                Literal("true".into()),
            ),
            (
                "[DNS_RCODE] == NOERROR",
                Value(v(Placeholder::DnsRcode, vec![])),
                Op::Eq,
                Literal("NOERROR".into()),
            ),
            (
                "[IP] == \"127.0.0.1\"",
                Value(v(Placeholder::Ip, vec![])),
                Op::Eq,
                Literal("127.0.0.1".into()),
            ),
            (
                "[TOOL_COUNT] >= 3",
                Value(v(Placeholder::ToolCount, vec![])),
                Op::Ge,
                Literal("3".into()),
            ),
            (
                "has([TOOLS].list_services) == true",
                Has(v(Placeholder::Tools, vec![Key("list_services".into())])),
                Op::Eq,
                Literal("true".into()),
            ),
            (
                "[PROTOCOL_VERSION] == 2026-07-28",
                Value(v(Placeholder::ProtocolVersion, vec![])),
                Op::Eq,
                Literal("2026-07-28".into()),
            ),
            (
                "[METRIC].arr < 1000000",
                Value(v(Placeholder::Metric, vec![Key("arr".into())])),
                Op::Lt,
                Literal("1000000".into()),
            ),
            (
                "has([METRIC].customers) == true",
                Has(v(Placeholder::Metric, vec![Key("customers".into())])),
                Op::Eq,
                Literal("true".into()),
            ),
        ];
        for (text, left, op, right) in cases {
            let c: Condition = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((c.left, c.op, c.right), (left, op, right), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_conditions_with_a_reason() {
        let cases = [
            ("[STATUS] 200", "no comparison operator"),
            ("[STATS] == 200", "`[STATS]` is not a placeholder"),
            (
                "[STATUS].code == 200",
                "only `[BODY]`, `[TOOLS]` and `[METRIC]` do",
            ),
            ("[METRIC] < 1", "one figure name"),
            ("[METRIC].arr.x < 1", "one figure name"),
            ("[METRIC][0] < 1", "one figure name"),
            ("[METRIC].arr < lots", "not a number or a duration"),
            ("[TOOLS].a.b == 1", "one tool name"),
            ("[TOOLS][0] == a", "one tool name"),
            ("[BODY]..a == 1", "empty key"),
            ("[BODY][x] == 1", "not an index"),
            ("[RESPONSE_TIME] < fast", "not a number or a duration"),
            ("pat(UP) == [BODY]", "go on the right"),
            ("[STATUS] < any(1, 2)", "go on the right"),
            ("size([BODY]) == 1", "not a condition function"),
            ("== 200", "empty side"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<Condition>().expect_err(text);
            assert!(err.message.contains(expected), "{text}: {}", err.message);
        }
        let err = "[METRICS].arr < 1".parse::<Condition>().unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `[METRIC]`?"));
        let err = "[STATS] == 200".parse::<Condition>().unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean `[STATUS]`?"));
    }
}

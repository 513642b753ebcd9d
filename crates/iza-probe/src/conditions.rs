//! Evaluates parsed conditions ([`iza_catalog::condition::Condition`]) against what a probe
//! observed, with Gatus's semantics:
//!
//! - each side resolves to text: `[STATUS]` → `503`, `[RESPONSE_TIME]` and
//!   `[CERTIFICATE_EXPIRATION]` → milliseconds, `[CONNECTED]` → `true`/`false`,
//!   `[BODY].a.b[0]` → the JSON value at that path (strings bare, other values as JSON);
//!   the browser's `[LOAD_TIME]`, `[LCP]`, `[TTFB]` → milliseconds, `[CLS]` → its score,
//!   `[CONSOLE_ERRORS]`, `[PAGE_ERRORS]`, `[REQUESTS_FAILED]` → counts, `[TEXT]` and
//!   `[TITLE]` → text;
//! - when both sides read as numbers they compare as numbers, and a duration literal
//!   (`48h`, `500ms`) reads as its milliseconds; `<`, `<=`, `>`, `>=` need numbers;
//! - otherwise `==` and `!=` compare text; `pat()` matches a glob where `*` is any run of
//!   characters; `any()` holds when the left side equals one of its items;
//! - `len()` counts a string's characters or an array's / object's items; `has()` is whether
//!   the path exists;
//! - `mcp` checks add `[TOOL_COUNT]`, `[PROTOCOL_VERSION]` and `[TOOLS]`: the tool names
//!   joined by `, `, and `[TOOLS].name` is that name when the server lists it (so
//!   `has([TOOLS].name)` is whether it does) and `len([TOOLS])` counts the tools.
//!
//! - `[METRIC].<figure>` is the service's latest business figure as the figures scraper last
//!   read it (passed in [`Facts::figures`] by the prober); without a value yet the condition
//!   fails and says `(no value yet)`.
//!
//! A failed condition renders the value it saw: `[STATUS] (503) == 200`.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::time::Duration;

use iza_catalog::condition::{Condition, Op, Operand, PathStep, Placeholder, Value};
use serde_json::Value as Json;

use crate::result::Facts;

/// How many characters of a seen value a failure message shows.
const SHOWN_VALUE_CHARS: usize = 80;

/// Evaluates conditions against one probe's facts; the body is parsed as JSON at most once.
pub struct Evaluator<'a> {
    facts: &'a Facts,
    response_time: Duration,
    json: OnceCell<Option<Json>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator for one probe's facts and response time.
    pub fn new(facts: &'a Facts, response_time: Duration) -> Evaluator<'a> {
        Evaluator {
            facts,
            response_time,
            json: OnceCell::new(),
        }
    }

    /// `Ok` when the condition holds; otherwise the condition rendered with the values it saw
    /// (`[STATUS] (503) == 200`).
    pub fn check(&self, condition: &Condition) -> Result<(), String> {
        let left = self.resolve(&condition.left);
        let right = self.resolve(&condition.right);
        let holds = match &condition.right {
            Operand::Pattern(glob) => left
                .as_deref()
                .is_some_and(|l| glob_matches(glob, l) == (condition.op == Op::Eq)),
            Operand::Any(items) => left.as_deref().is_some_and(|l| {
                items.iter().any(|item| equal(l, item)) == (condition.op == Op::Eq)
            }),
            _ => match (left.as_deref(), right.as_deref()) {
                (Some(l), Some(r)) => compare(l, condition.op, r),
                _ => false,
            },
        };
        if holds {
            Ok(())
        } else {
            Err(render(condition, left.as_deref(), right.as_deref()))
        }
    }

    /// The value of one side, or `None` when the probe has no such value.
    fn resolve<'s>(&'s self, operand: &'s Operand) -> Option<Cow<'s, str>> {
        match operand {
            Operand::Value(value) => self.value(value),
            Operand::Len(value) => self.len(value).map(|n| Cow::Owned(n.to_string())),
            Operand::Has(value) => Some(Cow::Borrowed(if self.has(value) {
                "true"
            } else {
                "false"
            })),
            Operand::Literal(text) => Some(Cow::Borrowed(text)),
            // Only valid on the right; `check` handles them before resolving.
            Operand::Pattern(text) => Some(Cow::Borrowed(text)),
            Operand::Any(_) => None,
        }
    }

    fn value<'s>(&'s self, value: &'s Value) -> Option<Cow<'s, str>> {
        let facts = self.facts;
        let browser = facts.browser.as_deref();
        let comparison = browser.and_then(|b| b.comparison.as_ref());
        match value.placeholder {
            Placeholder::Status => facts.status.map(|s| Cow::Owned(s.to_string())),
            Placeholder::ResponseTime => {
                Some(Cow::Owned(self.response_time.as_millis().to_string()))
            }
            Placeholder::Body if value.path.is_empty() => facts.body.as_deref().map(Cow::Borrowed),
            Placeholder::Body => self.json_at(&value.path).map(|j| match j {
                Json::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            }),
            Placeholder::Connected => Some(Cow::Borrowed(if facts.connected {
                "true"
            } else {
                "false"
            })),
            Placeholder::CertificateExpiration => facts
                .certificate_expires_in_secs
                .map(|s| Cow::Owned(s.saturating_mul(1000).to_string())),
            Placeholder::DnsRcode => facts.dns_rcode.as_deref().map(Cow::Borrowed),
            Placeholder::Ip => facts.ip.map(|ip| Cow::Owned(ip.to_string())),
            Placeholder::LoadTime => browser.and_then(|b| b.load_time_ms).map(number_text),
            Placeholder::Lcp => browser.and_then(|b| b.lcp_ms).map(number_text),
            Placeholder::Cls => browser.and_then(|b| b.cls).map(number_text),
            Placeholder::Ttfb => browser.and_then(|b| b.ttfb_ms).map(number_text),
            Placeholder::ConsoleErrors => browser.map(|b| Cow::Owned(b.console_errors.to_string())),
            Placeholder::PageErrors => browser.map(|b| Cow::Owned(b.page_errors.to_string())),
            Placeholder::RequestsFailed => {
                browser.map(|b| Cow::Owned(b.requests_failed.to_string()))
            }
            Placeholder::Text => browser.and_then(|b| b.text.as_deref()).map(Cow::Borrowed),
            Placeholder::Title => browser.and_then(|b| b.title.as_deref()).map(Cow::Borrowed),
            Placeholder::PixelDiff => comparison.map(|c| number_text(c.pixel_diff)),
            Placeholder::TextSimilarity => comparison.map(|c| number_text(c.text_similarity)),
            Placeholder::MissingLinks => {
                comparison.map(|c| Cow::Owned(c.missing_link_count.to_string()))
            }
            Placeholder::ToolCount => facts
                .tools
                .as_ref()
                .map(|t| Cow::Owned(t.len().to_string())),
            Placeholder::Tools => {
                let tools = facts.tools.as_ref()?;
                match value.path.first() {
                    Some(PathStep::Key(name)) => tools
                        .iter()
                        .find(|t| *t == name)
                        .map(|t| Cow::Borrowed(t.as_str())),
                    Some(PathStep::Index(_)) => None,
                    None => Some(Cow::Owned(tools.join(", "))),
                }
            }
            Placeholder::ProtocolVersion => facts.protocol_version.as_deref().map(Cow::Borrowed),
            Placeholder::RoundTrip => facts
                .round_trip_us
                .map(|us| number_text(us as f64 / 1000.0)),
            Placeholder::Metric => match value.path.first() {
                Some(PathStep::Key(name)) => {
                    facts.figures.get(name).map(|v| Cow::Borrowed(v.as_str()))
                }
                _ => None,
            },
        }
    }

    fn len(&self, value: &Value) -> Option<usize> {
        if value.placeholder == Placeholder::Tools && value.path.is_empty() {
            return self.facts.tools.as_ref().map(Vec::len);
        }
        if value.placeholder == Placeholder::Body && !value.path.is_empty() {
            return self.json_at(&value.path).map(|j| match j {
                Json::String(s) => s.chars().count(),
                Json::Array(items) => items.len(),
                Json::Object(map) => map.len(),
                other => other.to_string().chars().count(),
            });
        }
        self.value(value).map(|text| text.chars().count())
    }

    fn has(&self, value: &Value) -> bool {
        if value.placeholder == Placeholder::Body && !value.path.is_empty() {
            return self.json_at(&value.path).is_some();
        }
        self.value(value).is_some()
    }

    /// The JSON value at a path into the body, parsing the body on first use.
    fn json_at(&self, path: &[PathStep]) -> Option<&Json> {
        let root = self
            .json
            .get_or_init(|| {
                self.facts
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
            })
            .as_ref()?;
        path.iter().try_fold(root, |node, step| match step {
            PathStep::Key(key) => node.get(key.as_str()),
            PathStep::Index(i) => node.get(*i),
        })
    }
}

/// Evaluates every condition; the rendered failures, in order (empty when all hold).
pub fn failed_conditions<'c>(
    conditions: &'c [Condition],
    facts: &Facts,
    response_time: Duration,
) -> Vec<(&'c Condition, String)> {
    let evaluator = Evaluator::new(facts, response_time);
    conditions
        .iter()
        .filter_map(|c| evaluator.check(c).err().map(|seen| (c, seen)))
        .collect()
}

/// A measured number as condition text: whole numbers without a fraction, others rounded to
/// three decimals (`1234`, `0.052`).
pub(crate) fn number_text<'s>(n: f64) -> Cow<'s, str> {
    let rounded = (n * 1000.0).round() / 1000.0;
    Cow::Owned(if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        rounded.to_string()
    })
}

/// Reads text as a number: a plain number, or a duration (`48h`) as milliseconds.
fn number(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    // A bare word such as `UP` is not a duration; humantime needs a digit first.
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    humantime::parse_duration(text)
        .ok()
        .map(|d| d.as_secs_f64() * 1000.0)
}

fn equal(left: &str, right: &str) -> bool {
    match (number(left), number(right)) {
        (Some(l), Some(r)) => l == r,
        _ => left == right,
    }
}

fn compare(left: &str, op: Op, right: &str) -> bool {
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match (number(left), number(right)) {
            (Some(l), Some(r)) => match op {
                Op::Lt => l < r,
                Op::Le => l <= r,
                Op::Gt => l > r,
                _ => l >= r,
            },
            _ => false,
        },
    }
}

/// Whether `text` matches `glob`, where `*` matches any run of characters (including none)
/// and every other character matches itself.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    let pattern: Vec<char> = glob.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and the text position it is currently standing for.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// `[STATUS] (503) == 200`: each side as written, a placeholder side followed by its value.
fn render(condition: &Condition, left: Option<&str>, right: Option<&str>) -> String {
    let mut out = side(&condition.left, left);
    out.push(' ');
    out.push_str(condition.op.as_str());
    out.push(' ');
    out.push_str(&side(&condition.right, right));
    out
}

fn side(operand: &Operand, seen: Option<&str>) -> String {
    let written = operand_text(operand);
    match operand {
        Operand::Value(v) if v.placeholder == Placeholder::Metric && seen.is_none() => {
            format!("{written} (no value yet)")
        }
        Operand::Value(_) | Operand::Len(_) | Operand::Has(_) => {
            format!("{written} ({})", shown(seen))
        }
        _ => written,
    }
}

fn shown(seen: Option<&str>) -> String {
    match seen {
        None => "none".to_owned(),
        Some(text) if text.chars().count() > SHOWN_VALUE_CHARS => {
            let cut: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
            format!("{cut}…")
        }
        Some(text) => text.to_owned(),
    }
}

/// An operand as it would be written in a manifest.
fn operand_text(operand: &Operand) -> String {
    match operand {
        Operand::Value(v) => value_text(v),
        Operand::Len(v) => format!("len({})", value_text(v)),
        Operand::Has(v) => format!("has({})", value_text(v)),
        Operand::Pattern(p) => format!("pat({p})"),
        Operand::Any(items) => format!("any({})", items.join(", ")),
        Operand::Literal(l) => l.clone(),
    }
}

fn value_text(value: &Value) -> String {
    let mut out = format!("[{}]", value.placeholder.name());
    for step in &value.path {
        match step {
            PathStep::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn facts() -> Facts {
        Facts {
            status: Some(503),
            body: Some(
                r#"{"status":"UP","data":[{"state":"ready","n":3}],"items":[1,2,3],"name":"héllo","errors":null,"ok":true}"#
                    .to_owned(),
            ),
            connected: true,
            certificate_expires_in_secs: Some(72 * 3600),
            dns_rcode: Some("NOERROR".to_owned()),
            ip: Some(IpAddr::from([127, 0, 0, 1])),
            ..Facts::default()
        }
    }

    /// (condition, holds, rendered failure when it does not)
    const CASES: &[(&str, bool, &str)] = &[
        ("[STATUS] == 200", false, "[STATUS] (503) == 200"),
        ("[STATUS] == 503", true, ""),
        ("[STATUS] != 200", true, ""),
        ("[STATUS] < 500", false, "[STATUS] (503) < 500"),
        ("[STATUS] >= 500", true, ""),
        ("[STATUS] == any(500, 502, 503)", true, ""),
        (
            "[STATUS] == any(200, 204)",
            false,
            "[STATUS] (503) == any(200, 204)",
        ),
        ("[STATUS] != any(200, 204)", true, ""),
        ("[STATUS] == pat(5*)", true, ""),
        ("[STATUS] == pat(2*)", false, "[STATUS] (503) == pat(2*)"),
        ("[BODY].status == UP", true, ""),
        ("[BODY].status == DOWN", false, "[BODY].status (UP) == DOWN"),
        ("[BODY].data[0].state == ready", true, ""),
        ("[BODY].data[0].n > 2", true, ""),
        ("[BODY].data[0].n == 3.0", true, ""),
        (
            "[BODY].data[1].state == ready",
            false,
            "[BODY].data[1].state (none) == ready",
        ),
        ("[BODY].ok == true", true, ""),
        ("[BODY].errors == null", true, ""),
        ("[BODY].status == pat(U*)", true, ""),
        ("[BODY] == pat(*\"UP\"*)", true, ""),
        ("[BODY] == pat(*DOWN*)", false, ""),
        ("len([BODY].items) == 3", true, ""),
        ("len([BODY].items) > 3", false, "len([BODY].items) (3) > 3"),
        ("len([BODY].name) == 5", true, ""),
        ("len([BODY].data[0]) == 2", true, ""),
        (
            "len([BODY].missing) == 0",
            false,
            "len([BODY].missing) (none) == 0",
        ),
        ("has([BODY].errors) == true", true, ""),
        ("has([BODY].missing) == false", true, ""),
        (
            "has([BODY].status) == false",
            false,
            "has([BODY].status) (true) == false",
        ),
        ("[CONNECTED] == true", true, ""),
        ("[CONNECTED] == false", false, "[CONNECTED] (true) == false"),
        ("[CERTIFICATE_EXPIRATION] > 48h", true, ""),
        (
            "[CERTIFICATE_EXPIRATION] > 96h",
            false,
            "[CERTIFICATE_EXPIRATION] (259200000) > 96h",
        ),
        ("[CERTIFICATE_EXPIRATION] > 259199999", true, ""),
        ("[DNS_RCODE] == NOERROR", true, ""),
        (
            "[DNS_RCODE] == NXDOMAIN",
            false,
            "[DNS_RCODE] (NOERROR) == NXDOMAIN",
        ),
        ("[IP] == 127.0.0.1", true, ""),
        ("[IP] == pat(127.*)", true, ""),
        ("[RESPONSE_TIME] < 500", true, ""),
        ("[RESPONSE_TIME] < 1s", true, ""),
        ("[RESPONSE_TIME] < 250ms", true, ""),
        ("[RESPONSE_TIME] > 200", true, ""),
        (
            "[RESPONSE_TIME] < 200",
            false,
            "[RESPONSE_TIME] (240) < 200",
        ),
        ("[RESPONSE_TIME] <= 240", true, ""),
        // Ordering needs numbers on both sides.
        ("[BODY].status > 1", false, "[BODY].status (UP) > 1"),
    ];

    #[test]
    fn conditions_evaluate_with_gatus_semantics() {
        let facts = facts();
        let evaluator = Evaluator::new(&facts, Duration::from_millis(240));
        for (text, holds, rendered) in CASES {
            let condition: Condition = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            let got = evaluator.check(&condition);
            assert_eq!(got.is_ok(), *holds, "{text}: {got:?}");
            if !holds && !rendered.is_empty() {
                assert_eq!(got.unwrap_err(), *rendered, "{text}");
            }
        }
    }

    #[test]
    fn placeholders_without_a_value_fail_and_say_none() {
        let facts = Facts::default();
        let evaluator = Evaluator::new(&facts, Duration::ZERO);
        let cases = [
            ("[STATUS] == 200", "[STATUS] (none) == 200"),
            ("[STATUS] != 200", "[STATUS] (none) != 200"),
            ("[BODY].a == 1", "[BODY].a (none) == 1"),
            ("[IP] == pat(*)", "[IP] (none) == pat(*)"),
            (
                "[DNS_RCODE] != any(NXDOMAIN)",
                "[DNS_RCODE] (none) != any(NXDOMAIN)",
            ),
            (
                "[CERTIFICATE_EXPIRATION] > 1h",
                "[CERTIFICATE_EXPIRATION] (none) > 1h",
            ),
        ];
        for (text, rendered) in cases {
            let condition: Condition = text.parse().unwrap();
            assert_eq!(
                evaluator.check(&condition),
                Err(rendered.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_json_has_no_paths_but_keeps_its_text() {
        let facts = Facts {
            body: Some("pong".to_owned()),
            ..Facts::default()
        };
        let evaluator = Evaluator::new(&facts, Duration::ZERO);
        for (text, holds) in [
            ("[BODY] == pong", true),
            ("len([BODY]) == 4", true),
            ("has([BODY].a) == false", true),
            ("[BODY].a == pong", false),
        ] {
            let condition: Condition = text.parse().unwrap();
            assert_eq!(evaluator.check(&condition).is_ok(), holds, "{text}");
        }
    }

    #[test]
    fn mcp_tools_read_as_a_count_a_list_and_a_presence() {
        let facts = Facts {
            protocol_version: Some("2026-07-28".to_owned()),
            tools: Some(vec!["list_services".to_owned(), "port_map".to_owned()]),
            ..Facts::default()
        };
        let evaluator = Evaluator::new(&facts, Duration::ZERO);
        for (text, holds, rendered) in [
            ("[TOOL_COUNT] == 2", true, ""),
            ("[TOOL_COUNT] > 5", false, "[TOOL_COUNT] (2) > 5"),
            ("len([TOOLS]) == 2", true, ""),
            ("[TOOLS] == pat(*port_map*)", true, ""),
            ("has([TOOLS].list_services) == true", true, ""),
            ("has([TOOLS].run_task) == false", true, ""),
            (
                "has([TOOLS].run_task) == true",
                false,
                "has([TOOLS].run_task) (false) == true",
            ),
            ("[TOOLS].port_map == port_map", true, ""),
            ("[PROTOCOL_VERSION] == 2026-07-28", true, ""),
            (
                "[PROTOCOL_VERSION] == 2025-11-25",
                false,
                "[PROTOCOL_VERSION] (2026-07-28) == 2025-11-25",
            ),
        ] {
            let condition: Condition = text.parse().unwrap();
            let got = evaluator.check(&condition);
            assert_eq!(got.is_ok(), holds, "{text}: {got:?}");
            if !holds {
                assert_eq!(got.unwrap_err(), rendered, "{text}");
            }
        }
        let none = Facts::default();
        let condition: Condition = "[TOOL_COUNT] >= 0".parse().unwrap();
        assert_eq!(
            Evaluator::new(&none, Duration::ZERO).check(&condition),
            Err("[TOOL_COUNT] (none) >= 0".to_owned())
        );
    }

    #[test]
    fn figures_read_the_latest_value_and_say_when_there_is_none_yet() {
        let facts = Facts {
            figures: [("arr", "800000"), ("margin", "0.125")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ..Facts::default()
        };
        let evaluator = Evaluator::new(&facts, Duration::ZERO);
        for (text, holds, rendered) in [
            ("[METRIC].arr < 1000000", true, ""),
            (
                "[METRIC].arr >= 1000000",
                false,
                "[METRIC].arr (800000) >= 1000000",
            ),
            ("[METRIC].arr == 800000.0", true, ""),
            ("[METRIC].margin > 0.1", true, ""),
            (
                "[METRIC].margin <= 0.1",
                false,
                "[METRIC].margin (0.125) <= 0.1",
            ),
            ("has([METRIC].arr) == true", true, ""),
            ("has([METRIC].customers) == false", true, ""),
            (
                "[METRIC].customers > 10",
                false,
                "[METRIC].customers (no value yet) > 10",
            ),
            (
                "[METRIC].customers != 0",
                false,
                "[METRIC].customers (no value yet) != 0",
            ),
        ] {
            let condition: Condition = text.parse().unwrap();
            let got = evaluator.check(&condition);
            assert_eq!(got.is_ok(), holds, "{text}: {got:?}");
            if !holds {
                assert_eq!(got.unwrap_err(), rendered, "{text}");
            }
        }
        assert_eq!(number_text(1_234_567.0), "1234567");
        assert_eq!(number_text(0.0525), "0.053");
    }

    #[test]
    fn long_values_are_cut_in_the_message() {
        let facts = Facts {
            body: Some("x".repeat(500)),
            ..Facts::default()
        };
        let condition: Condition = "[BODY] == y".parse().unwrap();
        let message = Evaluator::new(&facts, Duration::ZERO)
            .check(&condition)
            .unwrap_err();
        assert!(message.len() < 120, "{message}");
        assert!(message.contains('…'), "{message}");
    }

    #[test]
    fn globs_match_stars_anywhere() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("UP", "UP", true),
            ("UP", "UPS", false),
            ("U*", "UP", true),
            ("*P", "UP", true),
            ("*ok*", "is ok here", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("a**c", "ac", true),
            ("*a*a*a*", "banana", true),
            ("*a*a*a*a*", "banana", false),
            ("é*", "été", true),
        ];
        for (glob, text, expected) in cases {
            assert_eq!(glob_matches(glob, text), expected, "{glob} ~ {text}");
        }
    }

    #[test]
    fn numbers_include_durations_in_milliseconds() {
        assert_eq!(number("200"), Some(200.0));
        assert_eq!(number("0.5"), Some(0.5));
        assert_eq!(number("48h"), Some(172_800_000.0));
        assert_eq!(number("500ms"), Some(500.0));
        assert_eq!(number("UP"), None);
        assert_eq!(number("NaN"), None);
        assert_eq!(number("127.0.0.1"), None);
    }
}

//! Reads the inline shapes of one line of a seed-style document: a cleaned title (emoji,
//! mojibake and emphasis removed), a bold lead (`**Label** (`ports`): value`), a
//! `host:port` endpoint, comma-separated lists and port lists.

use crate::manifest::raw::{RawPort, parse_port_spec};

/// A heading or label without its decorations: emphasis markers, closing hashes, and
/// leading or trailing words that hold no ASCII letter or digit (emoji, and the mojibake
/// emoji become when UTF-8 is read as Mac Roman, such as `üåê`).
///
/// When every word would go (a title in a script without ASCII letters), all are kept.
pub(super) fn clean_title(text: &str) -> String {
    let text = strip_closing_hashes(text.trim());
    let without_emphasis = text.replace("**", "").replace("__", "");
    let words: Vec<&str> = without_emphasis.split_whitespace().collect();
    let has_ascii_alnum = |w: &&str| w.chars().any(|c| c.is_ascii_alphanumeric());
    let kept = match (
        words.iter().position(has_ascii_alnum),
        words.iter().rposition(has_ascii_alnum),
    ) {
        (Some(first), Some(last)) => words.get(first..=last).unwrap_or(&words),
        _ => &words[..],
    };
    kept.join(" ")
        .trim_matches(|c: char| matches!(c, '*' | '_' | '`' | ':') || c.is_whitespace())
        .to_owned()
}

fn strip_closing_hashes(text: &str) -> &str {
    let without = text.trim_end_matches('#');
    if without.len() == text.len() {
        return text;
    }
    if without.is_empty() || without.ends_with([' ', '\t']) {
        without.trim_end()
    } else {
        text
    }
}

/// A value as plain text: emphasis markers and backticks removed, whitespace trimmed.
pub(super) fn plain(text: &str) -> String {
    text.replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .trim()
        .to_owned()
}

/// A line that starts with a bold label: `**Label**`, then optionally `(paren)`, then
/// optionally `: value` (`**Label:** value` is read the same way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lead {
    /// The label, cleaned.
    pub(super) label: String,
    /// The text inside parentheses right after the label.
    pub(super) paren: Option<String>,
    /// The text after the colon, when there is some.
    pub(super) value: Option<String>,
    /// What follows the label when there is no colon.
    pub(super) tail: String,
    /// True when the closing `**` is missing (the label runs to the end of the line).
    pub(super) unclosed: bool,
}

/// Reads a bold lead, or `None` when the text does not start with `**` or `__`.
pub(super) fn bold_lead(text: &str) -> Option<Lead> {
    let text = text.trim_start();
    let marker = ["**", "__"].into_iter().find(|m| text.starts_with(m))?;
    let inner = text.get(marker.len()..)?;
    let (label, rest, unclosed) = match inner.find(marker) {
        Some(end) => (
            inner.get(..end)?,
            inner.get(end + marker.len()..).unwrap_or(""),
            false,
        ),
        None => (inner, "", true),
    };
    let label = label.trim();
    let (label, colon_inside) = match label.strip_suffix(':') {
        Some(label) => (label, true),
        None => (label, false),
    };
    let label = clean_title(label);
    if label.is_empty() {
        return None;
    }
    let mut rest = rest.trim_start();
    let mut paren = None;
    if !colon_inside
        && let Some(after) = rest.strip_prefix('(')
        && let Some(close) = after.find(')')
    {
        paren = Some(after.get(..close).unwrap_or("").trim().to_owned());
        rest = after.get(close + 1..).unwrap_or("").trim_start();
    }
    let (value, tail) = if colon_inside {
        (rest.trim(), "")
    } else if let Some(value) = rest.strip_prefix(':') {
        (value.trim(), "")
    } else {
        ("", rest.trim())
    };
    Some(Lead {
        label,
        paren,
        value: (!value.is_empty()).then(|| value.to_owned()),
        tail: tail.to_owned(),
        unclosed,
    })
}

/// The texts between pairs of backticks.
pub(super) fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Port specs written in backticks (`` `80, 443` ``, `` `8300-8399` ``, `` `80`, `443` ``):
/// `None` when there are no backticks, an error naming the first bad spec otherwise.
pub(super) fn backticked_ports(text: &str) -> Option<Result<Vec<RawPort>, String>> {
    let quoted = backticked(text);
    if quoted.is_empty() {
        return None;
    }
    Some(port_list(&quoted.join(",")))
}

/// Port specs separated by commas or whitespace.
pub(super) fn port_list(text: &str) -> Result<Vec<RawPort>, String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(parse_port_spec)
        .collect()
}

/// A `host:port` (or `host:start-end`) endpoint found in a heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// The text before the endpoint, cleaned: the service's name.
    pub(super) name: String,
    /// The host (`localhost`).
    pub(super) host: String,
    /// The endpoint as written (`localhost:3000`).
    pub(super) written: String,
    /// The port or range, or why it is not one.
    pub(super) port: Result<RawPort, String>,
}

/// Finds the first `host:port` word in `text` (in backticks or not).
pub(super) fn endpoint(text: &str) -> Option<Endpoint> {
    let mut start = None;
    let boundary =
        |c: char| c.is_whitespace() || matches!(c, '`' | '(' | ')' | ',' | ';' | '[' | ']');
    let mut words = Vec::new();
    for (i, c) in text.char_indices() {
        if boundary(c) {
            if let Some(s) = start.take() {
                words.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    for (s, e) in words {
        let word = text.get(s..e)?.trim_end_matches(['.', ':']);
        let Some((host, spec)) = word.split_once(':') else {
            continue;
        };
        let host_ok = !host.is_empty()
            && host.chars().any(|c| c.is_ascii_alphabetic() || c == '.')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        let spec_ok = !spec.is_empty()
            && spec.chars().any(|c| c.is_ascii_digit())
            && spec.chars().all(|c| c.is_ascii_digit() || c == '-');
        if !host_ok || !spec_ok {
            continue;
        }
        let before = text.get(..s).unwrap_or("").trim_end_matches(|c: char| {
            c.is_whitespace() || matches!(c, '`' | '-' | '–' | '—' | ':' | '(' | '@' | '|')
        });
        return Some(Endpoint {
            name: clean_title(before),
            host: host.to_owned(),
            written: word.to_owned(),
            port: parse_port_spec(spec),
        });
    }
    None
}

/// Splits a list written in prose: at commas and semicolons, except a comma between two
/// digits (`2,056+`). Items are trimmed, a trailing period dropped, empty items skipped.
pub(super) fn split_list(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut items = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && chars.get(i - 1).is_some_and(char::is_ascii_digit)
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if (c == ',' && !between_digits) || c == ';' {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items
        .iter()
        .map(|item| plain(item).trim_end_matches('.').trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Splits `RabbitMQ for inter-service communication` into the product name (the leading
/// capitalised words, `RabbitMQ`) and the rest; an item without one is all name.
pub(super) fn leading_name(item: &str) -> (String, String) {
    let words: Vec<&str> = item.split_whitespace().collect();
    let capitalised = words
        .iter()
        .take_while(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        })
        .count();
    if capitalised == 0 {
        return (item.trim().to_owned(), String::new());
    }
    let name = words.get(..capitalised).unwrap_or(&words).join(" ");
    let rest = words.get(capitalised..).unwrap_or(&[]).join(" ");
    (name, rest)
}

/// The text with its first letter in upper case (`update metrics` → `Update metrics`).
pub(super) fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A label as a metadata key: `Revenue Model` → `revenue_model`.
pub(super) fn snake_key(label: &str) -> String {
    let key = super::super::slug(label).replace('-', "_");
    if key.is_empty() {
        "detail".to_owned()
    } else {
        key
    }
}

/// Lowercase ASCII words of a name, for matching (`IZA OS Dashboard` → `iza`, `os`, `dashboard`).
pub(super) fn words(text: &str) -> Vec<String> {
    super::super::slug(text)
        .split('-')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A short quote of a line for a note: trimmed, at most 80 characters.
pub(super) fn quote(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= 80 {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(79).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_title_removes_emoji_mojibake_and_emphasis() {
        let cases = [
            (
                "\u{f8ff}üåê IZA OS Ecosystem Services & Connections Analysis",
                "IZA OS Ecosystem Services & Connections Analysis",
            ),
            ("üåê **Executive Summary**", "Executive Summary"),
            (
                "ü§ñ **AI & Automation Services**",
                "AI & Automation Services",
            ),
            ("🚀 **Core Services** 🚀", "Core Services"),
            ("**Low-Priority Tasks", "Low-Priority Tasks"),
            (
                "**Tier 1: System Orchestrators**",
                "Tier 1: System Orchestrators",
            ),
            ("Title ##", "Title"),
            ("C#", "C#"),
            ("Ärzte Services", "Ärzte Services"),
            ("数据", "数据"),
            ("", ""),
        ];
        for (text, clean) in cases {
            assert_eq!(clean_title(text), clean, "{text:?}");
        }
    }

    #[test]
    fn bold_lead_reads_label_paren_and_value() {
        let lead = |label: &str, paren: Option<&str>, value: Option<&str>, tail: &str| Lead {
            label: label.to_owned(),
            paren: paren.map(str::to_owned),
            value: value.map(str::to_owned),
            tail: tail.to_owned(),
            unclosed: false,
        };
        let cases = [
            (
                "**Docker**: `iza-os-dashboard:3000`",
                Some(lead("Docker", None, Some("`iza-os-dashboard:3000`"), "")),
            ),
            (
                "**Database Cluster** (`5432-5439`): PostgreSQL, MongoDB, Redis",
                Some(lead(
                    "Database Cluster",
                    Some("`5432-5439`"),
                    Some("PostgreSQL, MongoDB, Redis"),
                    "",
                )),
            ),
            (
                "**AI/ML Workflows** (31): Content generation",
                Some(lead(
                    "AI/ML Workflows",
                    Some("31"),
                    Some("Content generation"),
                    "",
                )),
            ),
            (
                "**Agent Tasks**:",
                Some(lead("Agent Tasks", None, None, "")),
            ),
            (
                "**Label:** value",
                Some(lead("Label", None, Some("value"), "")),
            ),
            (
                "**IZA OS Main Dashboard** - `localhost:3000`",
                Some(lead(
                    "IZA OS Main Dashboard",
                    None,
                    None,
                    "- `localhost:3000`",
                )),
            ),
            (
                "**unclosed label",
                Some(Lead {
                    unclosed: true,
                    ..lead("unclosed label", None, None, "")
                }),
            ),
            ("plain text", None),
            ("****: x", None),
        ];
        for (text, expected) in cases {
            assert_eq!(bold_lead(text), expected, "{text:?}");
        }
    }

    #[test]
    fn endpoint_finds_host_and_port() {
        let cases = [
            (
                "**IZA OS Main Dashboard** - `localhost:3000`",
                Some((
                    "IZA OS Main Dashboard",
                    "localhost",
                    Ok(RawPort::Single(3000)),
                )),
            ),
            (
                "**MCP Server Hub** - `localhost:8300-8399`",
                Some((
                    "MCP Server Hub",
                    "localhost",
                    Ok(RawPort::Range((8300, 8399))),
                )),
            ),
            (
                "Grafana — 10.0.0.5:3000",
                Some(("Grafana", "10.0.0.5", Ok(RawPort::Single(3000)))),
            ),
            (
                "Big (localhost:99999)",
                Some((
                    "Big",
                    "localhost",
                    Err("`99999` is not a port number (0-65535)".to_owned()),
                )),
            ),
            ("Tier 1: System Orchestrators", None),
            ("Ratio 3:2", None),
        ];
        for (text, expected) in cases {
            let found = endpoint(text).map(|e| (e.name, e.host, e.port));
            let expected = expected.map(|(n, h, p)| (n.to_owned(), h.to_owned(), p));
            assert_eq!(found, expected, "{text:?}");
        }
    }

    #[test]
    fn split_list_keeps_thousands_together() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "Monitor system health, update metrics, manage alerts",
                &["Monitor system health", "update metrics", "manage alerts"],
            ),
            (
                "Manage 2,056+ workflow executions",
                &["Manage 2,056+ workflow executions"],
            ),
            ("a; b,, c.", &["a", "b", "c"]),
            ("", &[]),
        ];
        for (text, items) in cases {
            assert_eq!(split_list(text), items, "{text:?}");
        }
    }

    #[test]
    fn leading_name_takes_capitalised_words() {
        let cases = [
            (
                "RabbitMQ for inter-service communication",
                ("RabbitMQ", "for inter-service communication"),
            ),
            ("Nginx reverse proxy", ("Nginx", "reverse proxy")),
            ("Apache Kafka event log", ("Apache Kafka", "event log")),
            ("PostgreSQL", ("PostgreSQL", "")),
            ("reverse proxy", ("reverse proxy", "")),
        ];
        for (item, (name, rest)) in cases {
            assert_eq!(
                leading_name(item),
                (name.to_owned(), rest.to_owned()),
                "{item:?}"
            );
        }
    }

    #[test]
    fn port_lists() {
        assert_eq!(
            backticked_ports("`3000, 9090, 9093`"),
            Some(Ok(vec![
                RawPort::Single(3000),
                RawPort::Single(9090),
                RawPort::Single(9093)
            ]))
        );
        assert_eq!(
            backticked_ports("`80`, `443`"),
            Some(Ok(vec![RawPort::Single(80), RawPort::Single(443)]))
        );
        assert_eq!(backticked_ports("31"), None);
        assert!(matches!(backticked_ports("`9-1`"), Some(Err(_))));
    }
}

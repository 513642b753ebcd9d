//! Splits a Markdown document into numbered lines and says what each one is: a heading,
//! a list item, a code fence, a thematic break, plain text or nothing.
//!
//! This is deliberately not a full CommonMark parser: the importer reads documents line by
//! line, the way the seed is written, and must accept what CommonMark would not (the seed
//! closes its code block with a second opening fence, ```` ```text ````).

/// One line of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Line<'a> {
    /// 1-based line number.
    pub(super) number: usize,
    /// The line without its line ending.
    pub(super) raw: &'a str,
    /// What the line is.
    pub(super) kind: LineKind<'a>,
}

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind<'a> {
    /// Only whitespace.
    Blank,
    /// `#` to `######` and the heading's text (raw, decorations kept).
    Heading {
        /// 1 for `#`, 2 for `##`, ...
        level: usize,
        /// The text after the hashes.
        text: &'a str,
    },
    /// A line opening or closing a fenced code block (```` ``` ```` or `~~~`).
    Fence,
    /// A thematic break (`---`, `***`, `___`).
    Rule,
    /// A list item (`-`, `*`, `+`, `1.` or `1)`), with the indentation of its marker.
    Item {
        /// Columns before the marker (a tab counts 4).
        indent: usize,
        /// The text after the marker.
        text: &'a str,
    },
    /// Anything else.
    Text(&'a str),
}

/// Splits `text` into classified lines; `\r\n` and a leading byte-order mark are accepted.
pub(super) fn lines(text: &str) -> Vec<Line<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, raw)| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            Line {
                number: i + 1,
                raw,
                kind: classify(raw),
            }
        })
        .collect()
}

/// Says what one line (without its line ending) is.
pub(super) fn classify(line: &str) -> LineKind<'_> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return LineKind::Blank;
    }
    let indent = indentation(line);
    let body = line.trim_start();
    if indent <= 3 {
        if let Some(heading) = heading(body) {
            return heading;
        }
        if body.starts_with("```") || body.starts_with("~~~") {
            return LineKind::Fence;
        }
        if is_rule(trimmed) {
            return LineKind::Rule;
        }
    }
    if let Some(text) = list_item(body) {
        return LineKind::Item { indent, text };
    }
    LineKind::Text(body)
}

fn indentation(line: &str) -> usize {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn heading(body: &str) -> Option<LineKind<'_>> {
    let level = body.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    // `#` is one byte, so `level` bytes are the hashes.
    let rest = body.get(level..)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some(LineKind::Heading {
        level,
        text: rest.trim(),
    })
}

fn is_rule(trimmed: &str) -> bool {
    let mut marks = trimmed.chars().filter(|c| !c.is_whitespace());
    let Some(first) = marks.next() else {
        return false;
    };
    if !matches!(first, '-' | '*' | '_') {
        return false;
    }
    let mut count = 1;
    for c in marks {
        if c != first {
            return false;
        }
        count += 1;
    }
    count >= 3
}

/// The text of a list item, when `body` (the line without its indentation) is one.
fn list_item(body: &str) -> Option<&str> {
    let mut chars = body.char_indices();
    let (_, first) = chars.next()?;
    let after_marker = if matches!(first, '-' | '*' | '+') {
        1
    } else if first.is_ascii_digit() {
        let digits = body.chars().take_while(char::is_ascii_digit).count();
        if digits > 9 {
            return None;
        }
        match body.as_bytes().get(digits) {
            Some(b'.' | b')') => digits + 1,
            _ => return None,
        }
    } else {
        return None;
    };
    let rest = body.get(after_marker..)?;
    if rest.is_empty() {
        return Some("");
    }
    if rest.starts_with([' ', '\t']) {
        return Some(rest.trim());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::LineKind::{self, *};
    use super::classify;

    #[test]
    fn classifies_the_shapes_the_seed_uses() {
        let cases: &[(&str, LineKind<'_>)] = &[
            ("", Blank),
            ("   ", Blank),
            (
                "# Title",
                Heading {
                    level: 1,
                    text: "Title",
                },
            ),
            (
                "### **Low-Priority Tasks",
                Heading {
                    level: 3,
                    text: "**Low-Priority Tasks",
                },
            ),
            ("#hashtag", Text("#hashtag")),
            ("####### seven", Text("####### seven")),
            ("```text", Fence),
            ("~~~", Fence),
            ("---", Rule),
            ("* * *", Rule),
            (
                "- **Docker**: `x:1`",
                Item {
                    indent: 0,
                    text: "**Docker**: `x:1`",
                },
            ),
            (
                "  - **A Agent**: b",
                Item {
                    indent: 2,
                    text: "**A Agent**: b",
                },
            ),
            (
                "\t* nested",
                Item {
                    indent: 4,
                    text: "nested",
                },
            ),
            (
                "1. **High**: x",
                Item {
                    indent: 0,
                    text: "**High**: x",
                },
            ),
            (
                "12) twelve",
                Item {
                    indent: 0,
                    text: "twelve",
                },
            ),
            (
                "-",
                Item {
                    indent: 0,
                    text: "",
                },
            ),
            (
                "**Port Range**: 3000-9999",
                Text("**Port Range**: 3000-9999"),
            ),
            ("1.5 million", Text("1.5 million")),
            ("-dash", Text("-dash")),
        ];
        for (line, kind) in cases {
            assert_eq!(classify(line), *kind, "{line:?}");
        }
    }

    #[test]
    fn numbers_lines_and_drops_carriage_returns() {
        let lines = super::lines("\u{feff}# A\r\n\r\n- b\r\n");
        let seen: Vec<(usize, &str)> = lines.iter().map(|l| (l.number, l.raw)).collect();
        assert_eq!(seen, [(1, "# A"), (2, ""), (3, "- b"), (4, "")]);
    }
}

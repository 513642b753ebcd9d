//! Compose variable interpolation against the variables of the environment files.
//!
//! `$$` is a literal `$`. A reference takes the variable's value when it is set (by an
//! environment file, see `env`); otherwise, as compose does: `${VAR:-default}` and
//! `${VAR-default}` take their default (which may itself hold references), and every other
//! reference (`$VAR`, `${VAR}`, `${VAR:?message}`, `${VAR:+alternative}`) reads as the empty
//! string and is reported. With `:` (`:-`, `:?`, `:+`) an empty value counts as unset, as in
//! compose. The importer never reads the process environment, so the same files always
//! import to the same manifest.

/// A reference the file alone does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// `$VAR` or `${VAR}`: no default.
    NoDefault {
        /// The variable.
        variable: String,
    },
    /// `${VAR:?message}` or `${VAR?message}`: compose refuses the file when it is unset.
    Required {
        /// The variable.
        variable: String,
        /// The message compose would stop with.
        message: String,
    },
    /// `${VAR:+alternative}` or `${VAR+alternative}`: the alternative applies only when set.
    Alternative {
        /// The variable.
        variable: String,
    },
    /// Not interpolation syntax (a lone `$`, an unclosed `${`, an unknown operator); the
    /// text is kept as written from that point.
    Invalid,
}

/// Defaults nested deeper than this (`${A:-${B:-${C:-...}}}`) are kept as written.
const MAX_NESTING: usize = 16;

/// The variables a reference can read: name to value.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<&'a str>;

/// Interpolates one string value, collecting what could not be resolved.
pub(crate) fn interpolate(text: &str, lookup: Lookup<'_>, found: &mut Vec<Unresolved>) -> String {
    expand(text, 0, lookup, found)
}

fn expand(text: &str, depth: usize, lookup: Lookup<'_>, found: &mut Vec<Unresolved>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            match closing_brace(body) {
                Some(end) if depth < MAX_NESTING => {
                    out.push_str(&braced(&body[..end], depth, lookup, found));
                    rest = &body[end + 1..];
                }
                _ => {
                    found.push(Unresolved::Invalid);
                    out.push_str(&rest[dollar..]);
                    rest = "";
                }
            }
        } else {
            let len = name_len(after);
            if len == 0 {
                found.push(Unresolved::Invalid);
                out.push('$');
            } else if let Some(value) = lookup(&after[..len]) {
                out.push_str(value);
            } else {
                found.push(Unresolved::NoDefault {
                    variable: after[..len].to_owned(),
                });
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// The contents of `${...}` (without the braces) resolved.
fn braced(inner: &str, depth: usize, lookup: Lookup<'_>, found: &mut Vec<Unresolved>) -> String {
    let (variable, operation) = inner.split_at(name_len(inner));
    if variable.is_empty() {
        found.push(Unresolved::Invalid);
        return format!("${{{inner}}}");
    }
    let value = lookup(variable);
    // With `:`, an empty value counts as unset.
    let set = |operation: &str| match value {
        Some(v) => !(operation.starts_with(':') && v.is_empty()),
        None => false,
    };
    let variable = variable.to_owned();
    if operation.is_empty() {
        match value {
            Some(value) => value.to_owned(),
            None => {
                found.push(Unresolved::NoDefault { variable });
                String::new()
            }
        }
    } else if let Some(default) = strip_operator(operation, '-') {
        if set(operation) {
            value.unwrap_or_default().to_owned()
        } else {
            expand(default, depth + 1, lookup, found)
        }
    } else if let Some(message) = strip_operator(operation, '?') {
        if set(operation) {
            return value.unwrap_or_default().to_owned();
        }
        let message = expand(message, depth + 1, lookup, &mut Vec::new());
        found.push(Unresolved::Required { variable, message });
        String::new()
    } else if let Some(alternative) = strip_operator(operation, '+') {
        if set(operation) {
            return expand(alternative, depth + 1, lookup, found);
        }
        if value.is_none() {
            found.push(Unresolved::Alternative { variable });
        }
        String::new()
    } else {
        found.push(Unresolved::Invalid);
        format!("${{{inner}}}")
    }
}

/// `:-rest` or `-rest` gives `rest` for operator `-`.
fn strip_operator(operation: &str, operator: char) -> Option<&str> {
    operation
        .strip_prefix(':')
        .unwrap_or(operation)
        .strip_prefix(operator)
}

/// Byte index of the `}` closing a `${`, skipping nested `${...}` and `$$`.
fn closing_brace(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        match (byte, next) {
            (b'$', Some(b'{')) => {
                depth += 1;
                i += 2;
                continue;
            }
            (b'$', Some(b'$')) => {
                i += 2;
                continue;
            }
            (b'}', _) if depth == 0 => return Some(i),
            (b'}', _) => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Length in bytes of the variable name at the start of `text` (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_len(text: &str) -> usize {
    let mut len = 0;
    for (i, c) in text.char_indices() {
        let allowed = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !allowed {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::{Unresolved, interpolate as interpolate_with};

    fn interpolate(text: &str, found: &mut Vec<Unresolved>) -> String {
        interpolate_with(text, &|_| None, found)
    }

    fn no_default(variable: &str) -> Unresolved {
        Unresolved::NoDefault {
            variable: variable.to_owned(),
        }
    }

    #[test]
    fn references_resolve_from_the_file_alone() {
        let cases: Vec<(&str, &str, Vec<Unresolved>)> = vec![
            ("plain text", "plain text", vec![]),
            ("${PORT:-8080}:80", "8080:80", vec![]),
            ("${PORT-8080}:80", "8080:80", vec![]),
            ("${PORT:-}", "", vec![]),
            ("${PORT}:80", ":80", vec![no_default("PORT")]),
            ("$PORT:80", ":80", vec![no_default("PORT")]),
            ("a$HOME/b", "a/b", vec![no_default("HOME")]),
            ("cost $$5", "cost $5", vec![]),
            ("$${NOT_A_VAR}", "${NOT_A_VAR}", vec![]),
            (
                "${A:-${B:-inner}}-x",
                "inner-x",
                vec![], // the nested default resolves
            ),
            ("${A:-${B}}", "", vec![no_default("B")]),
            (
                "${TOKEN:?set TOKEN first}",
                "",
                vec![Unresolved::Required {
                    variable: "TOKEN".to_owned(),
                    message: "set TOKEN first".to_owned(),
                }],
            ),
            (
                "x${DEBUG:+--debug}",
                "x",
                vec![Unresolved::Alternative {
                    variable: "DEBUG".to_owned(),
                }],
            ),
            ("price: $5", "price: $5", vec![Unresolved::Invalid]),
            ("open ${VAR", "open ${VAR", vec![Unresolved::Invalid]),
            ("${}", "${}", vec![Unresolved::Invalid]),
            ("${VAR:0:2}", "${VAR:0:2}", vec![Unresolved::Invalid]),
            ("end $", "end $", vec![Unresolved::Invalid]),
            ("é${É:-ü}", "é${É:-ü}", vec![Unresolved::Invalid]),
        ];
        for (text, expected, unresolved) in cases {
            let mut found = Vec::new();
            assert_eq!(interpolate(text, &mut found), expected, "{text}");
            assert_eq!(found, unresolved, "{text}");
        }
    }

    #[test]
    fn set_variables_win_over_defaults_as_in_compose() {
        let vars = [("PORT", "9000"), ("EMPTY", ""), ("TAG", "1.2")];
        let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let cases: Vec<(&str, &str, Vec<Unresolved>)> = vec![
            ("${PORT:-8080}:80", "9000:80", vec![]),
            ("$PORT", "9000", vec![]),
            ("${EMPTY:-d}", "d", vec![]),
            ("${EMPTY-d}", "", vec![]),
            ("${TAG:+v$TAG}", "v1.2", vec![]),
            ("${EMPTY:+x}", "", vec![]),
            ("${PORT:?need}", "9000", vec![]),
            (
                "${EMPTY:?need}",
                "",
                vec![Unresolved::Required {
                    variable: "EMPTY".to_owned(),
                    message: "need".to_owned(),
                }],
            ),
        ];
        for (text, expected, unresolved) in cases {
            let mut found = Vec::new();
            assert_eq!(
                interpolate_with(text, &lookup, &mut found),
                expected,
                "{text}"
            );
            assert_eq!(found, unresolved, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_kept_as_written() {
        let text = format!("{}x{}", "${A:-".repeat(40), "}".repeat(40));
        let mut found = Vec::new();
        let out = interpolate(&text, &mut found);
        assert!(found.contains(&Unresolved::Invalid));
        assert!(out.contains("${A:-"), "{out}");
    }
}

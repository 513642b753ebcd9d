//! Environment files (`.env`, `--env-file`): the variables compose interpolates a file with.
//!
//! Read as compose reads them: one `NAME=VALUE` per line (`export NAME=VALUE` too), blank
//! lines and lines starting with `#` skipped; a value in single quotes is taken literally; a
//! value in double quotes may span lines and knows the escapes `\n`, `\t`, `\r`, `\\`, `\"`;
//! an unquoted value is trimmed and loses a ` #comment`. Double-quoted and unquoted values
//! are interpolated from the variables defined before them (`URL=http://${HOST}`). Several
//! files are read in order, a later value winning. A line without `=` names a variable that
//! compose would take from the shell; it is skipped, since the importer reads no shell.

use indexmap::IndexMap;

use super::interpolate::{self, Unresolved};

/// Variables by name, in the order first defined.
#[derive(Debug, Clone, Default)]
pub(crate) struct Environment {
    vars: IndexMap<String, String>,
}

impl Environment {
    /// The value of a variable, when set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Every variable, in the order first defined.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets a variable (a later file wins).
    pub(crate) fn set(&mut self, name: String, value: String) {
        self.vars.insert(name, value);
    }

    /// Reads one environment file's text into this environment; returns a sentence for
    /// each line that is not an assignment, to be noted.
    pub(crate) fn read(&mut self, text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut lines = text.lines().enumerate();
        while let Some((index, line)) = lines.next() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let trimmed = trimmed.strip_prefix("export ").unwrap_or(trimmed);
            let Some((name, raw)) = trimmed.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                problems.push(format!("line {} is not `NAME=VALUE`", index + 1));
                continue;
            }
            let raw = raw.trim_start();
            let value = if let Some(rest) = raw.strip_prefix('\'') {
                match rest.find('\'') {
                    Some(end) => rest[..end].to_owned(),
                    None => rest.to_owned(),
                }
            } else if let Some(rest) = raw.strip_prefix('"') {
                let mut body = String::new();
                let mut current = rest.to_owned();
                loop {
                    if let Some(end) = closing_quote(&current) {
                        body.push_str(&current[..end]);
                        break;
                    }
                    body.push_str(&current);
                    match lines.next() {
                        Some((_, next)) => {
                            body.push('\n');
                            current = next.to_owned();
                        }
                        None => {
                            problems.push(format!(
                                "line {}: the double quote is never closed",
                                index + 1
                            ));
                            break;
                        }
                    }
                }
                self.expand(&unescape(&body))
            } else {
                let value = match raw.find(" #") {
                    Some(comment) => &raw[..comment],
                    None => raw,
                };
                self.expand(value.trim_end())
            };
            self.vars.insert(name.to_owned(), value);
        }
        problems
    }

    /// Interpolates a value from the variables defined so far; what is unset reads empty.
    fn expand(&self, value: &str) -> String {
        if !value.contains('$') {
            return value.to_owned();
        }
        let lookup = |name: &str| self.get(name);
        let mut found: Vec<Unresolved> = Vec::new();
        interpolate::interpolate(value, &lookup, &mut found)
    }
}

/// Byte index of the first `"` not escaped by a backslash.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Environment;

    #[test]
    fn env_files_read_as_compose_reads_them() {
        let mut env = Environment::default();
        let problems = env.read(
            "# comment\n\nWEB_PORT=9000\nexport TAG = 1.2 \nQUOTED='a ${WEB_PORT} # b'\nDOUBLE=\"x\\ty ${WEB_PORT}\"\nINLINE=value # comment\nURL=http://host:${WEB_PORT}/\nMULTI=\"one\ntwo\"\nFROM_SHELL\nEMPTY=\n= nothing\n",
        );
        let get = |k: &str| env.get(k).map(str::to_owned);
        assert_eq!(get("WEB_PORT").as_deref(), Some("9000"));
        assert_eq!(get("TAG").as_deref(), Some("1.2"));
        assert_eq!(get("QUOTED").as_deref(), Some("a ${WEB_PORT} # b"));
        assert_eq!(get("DOUBLE").as_deref(), Some("x\ty 9000"));
        assert_eq!(get("INLINE").as_deref(), Some("value"));
        assert_eq!(get("URL").as_deref(), Some("http://host:9000/"));
        assert_eq!(get("MULTI").as_deref(), Some("one\ntwo"));
        assert_eq!(get("FROM_SHELL"), None);
        assert_eq!(get("EMPTY").as_deref(), Some(""));
        assert_eq!(problems, ["line 13 is not `NAME=VALUE`"]);
    }
}

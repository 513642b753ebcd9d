//! The manifest's `[store]`: where `iza serve` and `iza up` keep their state. The URL is kept as
//! written; `${NAME}` references in it are resolved by whoever opens the store, with the
//! environment it passes in ([`StoreConfig::resolve`]), so the catalog stays pure and the
//! password stays out of the manifest. This module owns the reference syntax and its checks;
//! what a store URL means is the store's business (`iza-store`'s `StoreLocation`).

use serde::Serialize;

use crate::redact::redact_url;

/// `[store]` as validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreConfig {
    /// The URL as written, references unresolved (`${IZA_DATABASE_URL}`).
    pub url: String,
}

/// A piece of a URL as written: text, or a `${NAME}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlPart<'a> {
    /// Literal text (`$$` already turned into `$`).
    Text(String),
    /// `${NAME}`.
    Variable(&'a str),
}

/// Why a URL as written cannot be read or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreUrlError {
    /// `${` without its `}`.
    #[error("`${{` at byte {at} is not closed by `}}`")]
    Unclosed {
        /// Byte offset of the `$`.
        at: usize,
    },
    /// `${...}` whose name is not a variable name.
    #[error("`${{{name}}}` is not a variable reference (names are letters, digits and `_`)")]
    BadName {
        /// The text between the braces.
        name: String,
    },
    /// A reference to a variable that is not set.
    #[error("the environment variable `{name}` that `[store] url` names is not set")]
    Unset {
        /// The variable.
        name: String,
    },
}

/// Splits a URL as written into text and references; `$$` is a literal `$`, a lone `$` too.
pub fn parse_url(text: &str) -> Result<Vec<UrlPart<'_>>, StoreUrlError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(index) = rest.find('$') {
        literal.push_str(&rest[..index]);
        let after = &rest[index + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            literal.push('$');
            offset += index + 2;
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let close = tail
                .find('}')
                .ok_or(StoreUrlError::Unclosed { at: offset + index })?;
            let name = &tail[..close];
            let valid = name
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(StoreUrlError::BadName {
                    name: name.to_owned(),
                });
            }
            if !literal.is_empty() {
                parts.push(UrlPart::Text(std::mem::take(&mut literal)));
            }
            parts.push(UrlPart::Variable(name));
            offset += index + 2 + close + 1;
            rest = &tail[close + 1..];
        } else {
            literal.push('$');
            offset += index + 1;
            rest = after;
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(UrlPart::Text(literal));
    }
    Ok(parts)
}

impl StoreConfig {
    /// The URL with every `${NAME}` replaced by `lookup(NAME)` (the environment, as the caller
    /// passes it); an unset variable is an error.
    pub fn resolve(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<String, StoreUrlError> {
        let mut url = String::new();
        for part in parse_url(&self.url)? {
            match part {
                UrlPart::Text(text) => url.push_str(&text),
                UrlPart::Variable(name) => {
                    url.push_str(&lookup(name).ok_or_else(|| StoreUrlError::Unset {
                        name: name.to_owned(),
                    })?)
                }
            }
        }
        Ok(url)
    }

    /// The URL as it may be shown: a written password is `***` (references stay as written).
    pub fn redacted(&self) -> StoreConfig {
        StoreConfig {
            url: redact_url(&self.url).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_from_the_lookup() {
        let config = StoreConfig {
            url: "postgres://iza:${PG_PASS}@db:5432/${DB}?cost=$$5".to_owned(),
        };
        let env = |name: &str| match name {
            "PG_PASS" => Some("s3cret".to_owned()),
            "DB" => Some("iza".to_owned()),
            _ => None,
        };
        assert_eq!(
            config.resolve(env).unwrap(),
            "postgres://iza:s3cret@db:5432/iza?cost=$5"
        );
        let unset = StoreConfig {
            url: "${IZA_DATABASE_URL}".to_owned(),
        };
        assert_eq!(
            unset.resolve(|_| None),
            Err(StoreUrlError::Unset {
                name: "IZA_DATABASE_URL".to_owned()
            })
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        assert_eq!(
            parse_url("postgres://${PASS"),
            Err(StoreUrlError::Unclosed { at: 11 })
        );
        assert!(matches!(
            parse_url("${1X}"),
            Err(StoreUrlError::BadName { .. })
        ));
        assert!(matches!(
            parse_url("${}"),
            Err(StoreUrlError::BadName { .. })
        ));
        assert_eq!(
            parse_url("a$b").unwrap(),
            vec![UrlPart::Text("a$b".to_owned())]
        );
    }

    #[test]
    fn a_written_password_is_masked() {
        let config = StoreConfig {
            url: "postgres://iza:s3cret@db/iza".to_owned(),
        };
        assert!(!config.redacted().url.contains("s3cret"));
        let reference = StoreConfig {
            url: "${IZA_DATABASE_URL}".to_owned(),
        };
        assert_eq!(reference.redacted(), reference);
    }
}

//! Where a store lives, as a user writes it (`--store`, `[store] url`): a SQLite file
//! (`sqlite:PATH`, or a bare path) or a PostgreSQL database (`postgres://...`), and how such a
//! location is shown without its password. It owns the parsing and the redaction, not the
//! opening (each store does that).

use std::fmt;
use std::path::PathBuf;

/// A store location.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/database?options`).
    Postgres(String),
}

/// Why a store location was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Empty text.
    #[error("the store location is empty")]
    Empty,
    /// A scheme other than `sqlite:` and `postgres://`.
    #[error("`{scheme}://` is not a store this build knows; use `sqlite:PATH` or `postgres://...`")]
    UnknownScheme {
        /// The scheme given.
        scheme: String,
    },
    /// `sqlite:` without a path.
    #[error("`sqlite:` needs a path, as in `sqlite:.iza/state.db`")]
    NoPath,
}

impl StoreLocation {
    /// Reads a location: `postgres://` or `postgresql://` URLs, `sqlite:PATH` (or
    /// `sqlite://PATH`), or a bare path (a SQLite file).
    pub fn parse(text: &str) -> Result<StoreLocation, LocationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LocationError::Empty);
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(text.to_owned()));
        }
        if let Some(path) = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(LocationError::NoPath);
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(LocationError::UnknownScheme {
                scheme: scheme.to_owned(),
            });
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(text)))
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }

    /// The location as it may be shown (logs, API, errors): a URL's password is `***`.
    pub fn redacted(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => format!("sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => redact_url(url),
        }
    }
}

/// Never prints the password, not even in `{:?}`.
impl fmt::Debug for StoreLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

/// A URL with the password of its user info (`user:password@`) and any `password=` query
/// parameter replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            StoreLocation::parse("postgres://u@h/db").unwrap(),
            StoreLocation::Postgres("postgres://u@h/db".to_owned())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:.iza/state.db").unwrap(),
            StoreLocation::Sqlite(".iza/state.db".into())
        );
        assert_eq!(
            StoreLocation::parse("/var/lib/iza.db").unwrap(),
            StoreLocation::Sqlite("/var/lib/iza.db".into())
        );
        assert_eq!(StoreLocation::parse(" "), Err(LocationError::Empty));
        assert_eq!(StoreLocation::parse("sqlite:"), Err(LocationError::NoPath));
        assert!(matches!(
            StoreLocation::parse("mysql://h/db"),
            Err(LocationError::UnknownScheme { .. })
        ));
    }

    #[test]
    fn passwords_never_show() {
        let cases = [
            (
                "postgres://iza:s3cret@db:5432/iza",
                "postgres://iza:***@db:5432/iza",
            ),
            ("postgres://iza:p@ss@db/iza", "postgres://iza:***@db/iza"),
            ("postgres://iza@db/iza", "postgres://iza@db/iza"),
            (
                "postgres://db/iza?user=iza&password=s3cret&sslmode=require",
                "postgres://db/iza?user=iza&password=***&sslmode=require",
            ),
            ("postgres://db", "postgres://db"),
        ];
        for (given, shown) in cases {
            assert_eq!(redact_url(given), shown);
            let location = StoreLocation::parse(given).unwrap();
            assert!(!format!("{location:?} {location}").contains("s3cret"));
        }
    }
}

//! Maps a compose `healthcheck` to a manifest `check`: the test becomes an `exec` check
//! (`["CMD", ...]` runs the program directly; `["CMD-SHELL", script]` and a plain string run
//! through `sh -c`), `interval` becomes `every`, `timeout` stays `timeout` and `retries`
//! becomes `failure_threshold`. Compose's defaults (timeout 30s, 3 retries) are written out
//! because the manifest's differ; its default interval (30s) is the manifest's too.

use serde_json::{Map, Value};

use super::{Notes, describe};

/// Compose's default probe timeout.
const COMPOSE_DEFAULT_TIMEOUT: &str = "30s";
/// Compose's default number of consecutive failures before a container is unhealthy.
const COMPOSE_DEFAULT_RETRIES: i64 = 3;

/// The manifest check for a service's `healthcheck`, or `None` (with a note when something
/// was lost) when there is none to map.
pub(super) fn check(service: &str, healthcheck: &Value, notes: &mut Notes) -> Option<toml::Table> {
    let Value::Object(healthcheck) = healthcheck else {
        if !healthcheck.is_null() {
            notes.service(
                service,
                format!(
                    "`healthcheck` is {}, not a mapping; not mapped",
                    describe(healthcheck)
                ),
            );
        }
        return None;
    };
    match healthcheck.get("disable") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return None,
        Some(Value::String(text)) => match boolean(text) {
            Some(true) => return None,
            Some(false) => {}
            None => notes.service(
                service,
                format!(
                    "healthcheck `disable` {} is not a boolean; the check is mapped",
                    describe(&Value::String(text.clone()))
                ),
            ),
        },
        Some(other) => notes.service(
            service,
            format!(
                "healthcheck `disable` is {}, not a boolean; the check is mapped",
                describe(other)
            ),
        ),
    }
    for (key, value) in healthcheck {
        match key.as_str() {
            "test" | "interval" | "timeout" | "retries" | "disable" => {}
            "start_period" | "start_interval" if is_unset_duration(value) => {}
            "start_period" | "start_interval" => notes.service(service, format!("healthcheck `{key}` ({}) is not mapped; the manifest's check has no grace period",
                describe(value)
            )),
            _ => notes.service(service, format!("healthcheck `{key}` is not mapped"
            )),
        }
    }
    let (argv, shell) = test(service, healthcheck.get("test"), notes)?;
    let mut check = toml::Table::new();
    check.insert(
        "exec".to_owned(),
        toml::Value::Array(argv.into_iter().map(toml::Value::String).collect()),
    );
    if shell {
        check.insert("shell".to_owned(), toml::Value::Boolean(true));
    }
    if let Some(every) = duration(service, "interval", healthcheck, notes) {
        check.insert("every".to_owned(), toml::Value::String(every));
    }
    let timeout = duration(service, "timeout", healthcheck, notes)
        .unwrap_or_else(|| COMPOSE_DEFAULT_TIMEOUT.to_owned());
    check.insert("timeout".to_owned(), toml::Value::String(timeout));
    check.insert(
        "failure_threshold".to_owned(),
        toml::Value::Integer(retries(service, healthcheck, notes)),
    );
    Some(check)
}

/// The program and arguments of `test`, and whether they run through a shell.
fn test(service: &str, test: Option<&Value>, notes: &mut Notes) -> Option<(Vec<String>, bool)> {
    let unusable = |notes: &mut Notes, why: &str| {
        notes.service(service, format!("healthcheck {why}; no check is mapped"));
    };
    let script = |words: &[Value]| {
        words
            .iter()
            .map(scalar_text)
            .collect::<Option<Vec<_>>>()
            .map(|w| w.join(" "))
    };
    match test {
        None | Some(Value::Null) => {
            unusable(notes, "has no `test` (the image's own is used)");
            None
        }
        Some(Value::String(text)) if text.trim().is_empty() => {
            unusable(notes, "has an empty `test`");
            None
        }
        Some(Value::String(text)) => Some((vec![text.clone()], true)),
        Some(Value::Array(words)) => {
            let Some((first, rest)) = words.split_first() else {
                unusable(notes, "has an empty `test`");
                return None;
            };
            match first.as_str() {
                Some("NONE") => None,
                Some("CMD") => {
                    let argv: Option<Vec<String>> = rest.iter().map(scalar_text).collect();
                    match argv {
                        Some(argv) if argv.first().is_some_and(|p| !p.trim().is_empty()) => {
                            Some((argv, false))
                        }
                        _ => {
                            unusable(notes, "`test` has no program after `CMD`");
                            None
                        }
                    }
                }
                Some("CMD-SHELL") => match script(rest) {
                    Some(script) if !script.trim().is_empty() => Some((vec![script], true)),
                    _ => {
                        unusable(notes, "`test` has no script after `CMD-SHELL`");
                        None
                    }
                },
                _ => {
                    unusable(
                        notes,
                        "`test` does not start with `CMD`, `CMD-SHELL` or `NONE`",
                    );
                    None
                }
            }
        }
        Some(other) => {
            unusable(notes, &format!("`test` is {}", describe(other)));
            None
        }
    }
}

/// A string, number or boolean as text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A compose duration (`1m30s`, `500ms`) kept as written when the manifest reads it too;
/// zero or absent means compose's default.
fn duration(
    service: &str,
    key: &str,
    healthcheck: &Map<String, Value>,
    notes: &mut Notes,
) -> Option<String> {
    let value = healthcheck.get(key)?;
    let text = match value {
        Value::Null => return None,
        Value::String(text) if text.trim().is_empty() => return None,
        Value::String(text) => text.trim(),
        other => {
            notes.service(service, format!("healthcheck `{key}` is {}, not a duration such as `30s`; compose's default is used",
                describe(other)
            ));
            return None;
        }
    };
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => None,
        Ok(_) => Some(text.to_owned()),
        Err(_) => {
            notes.service(service, format!("healthcheck `{key}` `{text}` is not a duration the manifest reads; compose's default is used"
            ));
            None
        }
    }
}

/// A boolean as compose reads an interpolated one (`true`, `yes`, `y`, `on`, `1` and their
/// opposites, in any case).
fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// An empty or zero duration: compose's default, nothing to note.
fn is_unset_duration(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(text) => {
            let text = text.trim();
            text.is_empty() || humantime::parse_duration(text).is_ok_and(|d| d.is_zero())
        }
        _ => false,
    }
}

/// `retries` (a number, or text holding one after interpolation), or compose's default when
/// absent or zero.
fn retries(service: &str, healthcheck: &Map<String, Value>, notes: &mut Notes) -> i64 {
    match healthcheck.get("retries") {
        None | Some(Value::Null) => COMPOSE_DEFAULT_RETRIES,
        Some(Value::String(text)) if text.trim().is_empty() => COMPOSE_DEFAULT_RETRIES,
        Some(Value::String(text)) => match text.trim().parse::<u32>() {
            Ok(0) => COMPOSE_DEFAULT_RETRIES,
            Ok(n) => i64::from(n),
            Err(_) => {
                notes.service(
                    service,
                    format!(
                        "healthcheck `retries` {} is not a count; compose's default (3) is used",
                        describe(&Value::String(text.clone()))
                    ),
                );
                COMPOSE_DEFAULT_RETRIES
            }
        },
        Some(Value::Number(n)) => {
            match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(0) => COMPOSE_DEFAULT_RETRIES,
                Some(n) => i64::from(n),
                None => {
                    notes.service(service, format!("healthcheck `retries` `{n}` is not a count; compose's default (3) is used"
                ));
                    COMPOSE_DEFAULT_RETRIES
                }
            }
        }
        Some(other) => {
            notes.service(
                service,
                format!(
                    "healthcheck `retries` is {}, not a count; compose's default (3) is used",
                    describe(other)
                ),
            );
            COMPOSE_DEFAULT_RETRIES
        }
    }
}

//! Defines [`parse`]: manifest text (TOML or YAML) becomes the wire model, or diagnostics
//! that name the line and column of every syntax error, unknown key and mistyped value.

use serde::Deserialize;

use super::raw::RawManifest;
use super::yaml;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::source::{SourceFile, Syntax};

/// Why a manifest could not be turned into the wire model.
#[derive(Debug, Clone)]
pub struct ParseFailure {
    /// True when the text is not valid TOML/YAML at all (exit code 2), false when it is
    /// valid but does not fit the manifest's shape (exit code 1).
    pub syntax: bool,
    /// What went wrong, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a manifest's text into the wire model.
pub fn parse(source: &SourceFile) -> Result<RawManifest, ParseFailure> {
    match source.syntax {
        Syntax::Toml => parse_toml(&source.text),
        Syntax::Yaml => parse_yaml(&source.text),
    }
}

fn parse_toml(text: &str) -> Result<RawManifest, ParseFailure> {
    let (table, errors) = toml::de::DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = errors
            .iter()
            .map(|e| {
                let d = Diagnostic::error(Code::SyntaxError, tidy(e.message()));
                match e.span() {
                    Some(span) => d.at(span),
                    None => d,
                }
            })
            .collect();
        crate::diagnostic::sort(&mut diagnostics);
        diagnostics.dedup();
        return Err(ParseFailure {
            syntax: true,
            diagnostics,
        });
    }
    RawManifest::deserialize(toml::de::Deserializer::from(table)).map_err(|e| {
        let diagnostic = shape_error(e.message(), None);
        ParseFailure {
            syntax: false,
            diagnostics: vec![match e.span() {
                Some(span) => diagnostic.at(span),
                None => diagnostic,
            }],
        }
    })
}

fn parse_yaml(text: &str) -> Result<RawManifest, ParseFailure> {
    let node = yaml::parse(text).map_err(|e| {
        let d = Diagnostic::error(Code::SyntaxError, tidy(&e.message));
        ParseFailure {
            syntax: true,
            diagnostics: vec![match e.span {
                Some(span) => d.at(span),
                None => d,
            }],
        }
    })?;
    // An empty document is an empty manifest, as an empty TOML file is.
    let node = match node.value {
        yaml::NodeValue::Null => yaml::Node {
            span: node.span,
            value: yaml::NodeValue::Map(Vec::new()),
        },
        _ => node,
    };
    yaml::from_node::<RawManifest>(&node).map_err(|e| {
        let diagnostic = shape_error(&e.message, e.unknown_key.clone());
        ParseFailure {
            syntax: false,
            diagnostics: vec![match e.span {
                Some(span) => diagnostic.at(span),
                None => diagnostic,
            }],
        }
    })
}

/// Turns a serde error about the manifest's shape into a diagnostic with a hint.
fn shape_error(message: &str, unknown: Option<(String, Vec<&'static str>)>) -> Diagnostic {
    let unknown = unknown.or_else(|| parse_unknown_field(message));
    if let Some((key, expected)) = unknown {
        let d = Diagnostic::error(Code::UnknownKey, format!("unknown key `{key}`"));
        return match did_you_mean(&key, expected.iter().copied()) {
            Some(close) => d.hint(format!("did you mean `{close}`?")),
            None if expected.is_empty() => d.hint("this table takes no keys"),
            None => d.hint(format!(
                "the keys allowed here are {}",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }
    let message = tidy(message);
    let d = Diagnostic::error(Code::InvalidValue, message.clone());
    match message
        .strip_prefix("missing key `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some((key, _)) => d.hint(format!(
            "add `{key}`; `docs/manifest.md` describes every key"
        )),
        None => d,
    }
}

/// Reads serde's standard "unknown field `x`, expected one of `a`, `b`" message.
fn parse_unknown_field(message: &str) -> Option<(String, Vec<&'static str>)> {
    let rest = message.trim().strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&'static str> = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(crate::manifest::known_key)
        .collect();
    Some((field.to_owned(), expected))
}

fn tidy(message: &str) -> String {
    let m = message.trim().trim_end_matches('.');
    m.replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("expected u16", "expected a number from 0 to 65535")
        .replace("expected u8", "expected a number from 0 to 255")
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
}

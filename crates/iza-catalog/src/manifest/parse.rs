//! Defines [`parse`]: manifest text (TOML or YAML) becomes the wire model, or diagnostics
//! that name the line and column of every syntax error, unknown key and mistyped value.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use toml::de::{DeTable, DeValue};

use super::raw::{IdMap, RawManifest, RawService};
use super::toml_chunks::{self, GaveUp};
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
    let chunk_bytes =
        (text.len() >= toml_chunks::CHUNKED_FROM_BYTES).then_some(toml_chunks::CHUNK_BYTES);
    parse_toml_with(text, chunk_bytes).0
}

/// How a TOML manifest was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TomlPath {
    /// In chunks, each service deserialized as soon as it was settled.
    Streamed,
    /// In chunks, the tree deserialized as a whole.
    Chunked,
    /// As one document.
    Whole,
}

/// Parses TOML in chunks of at least `chunk_bytes` when given, falling back to parsing the
/// whole text (always so without `chunk_bytes`), and says which way held. Every way gives
/// the same result: the chunked parse gives up wherever its tree could differ from the
/// whole document's (and on any syntax error), and the streamed one on any error at all.
pub(super) fn parse_toml_with(
    text: &str,
    chunk_bytes: Option<usize>,
) -> (Result<RawManifest, ParseFailure>, TomlPath) {
    if let Some(bytes) = chunk_bytes {
        match parse_toml_streamed(text, bytes) {
            Ok(raw) => return (Ok(raw), TomlPath::Streamed),
            // The syntax error is reported as the whole-document parse reports it.
            Err(GaveUp::ChunkError) => {}
            Err(GaveUp::Doubt) => {
                // The same tree as the whole-document parse, so the same result, errors
                // included.
                if let Ok(chunked) = toml_chunks::parse_in_chunks(text, bytes, None) {
                    return (deserialize_toml(chunked.tree), TomlPath::Chunked);
                }
            }
        }
    }
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
        return (
            Err(ParseFailure {
                syntax: true,
                diagnostics,
            }),
            TomlPath::Whole,
        );
    }
    (deserialize_toml(table), TomlPath::Whole)
}

/// Parses TOML in chunks, deserializing each `[services.<id>]` as soon as it is settled so
/// that the TOML tree of all services never exists at once. Gives up on any error or doubt
/// (a manifest that does not fit the wire model is [`GaveUp::Doubt`]).
fn parse_toml_streamed(text: &str, chunk_bytes: usize) -> Result<RawManifest, GaveUp> {
    let mut sink = ServiceSink {
        services: IdMap::new(),
    };
    let chunked = toml_chunks::parse_in_chunks(text, chunk_bytes, Some(&mut sink))?;
    let mut root = chunked.tree;
    let mut services = sink.services;
    if chunked.settled {
        // What is left of `services` are placeholders in the document's order.
        let Some(DeValue::Table(order)) = root.get_mut().remove("services").map(|v| v.into_inner())
        else {
            return Err(GaveUp::Doubt);
        };
        if order.len() != services.len() {
            return Err(GaveUp::Doubt);
        }
        let in_order = order
            .keys()
            .zip(services.keys())
            .all(|(placeholder, id)| placeholder.get_ref().as_ref() == id.get().as_str());
        if !in_order {
            let position: HashMap<&str, usize> = order
                .keys()
                .enumerate()
                .map(|(index, key)| (key.get_ref().as_ref(), index))
                .collect();
            services.sort_by_cached_key(|id, _| position.get(id.get().as_str()).copied());
        }
    }
    let mut raw =
        RawManifest::deserialize(toml::de::Deserializer::from(root)).map_err(|_| GaveUp::Doubt)?;
    if chunked.settled {
        raw.services = services;
    }
    Ok(raw)
}

/// Deserializes settled `services` entries straight into the manifest's map of services.
struct ServiceSink {
    services: IdMap<RawService>,
}

impl<'i> toml_chunks::Settle<'i> for ServiceSink {
    fn table(&self) -> &str {
        "services"
    }

    fn expect(&mut self, entries: usize) {
        // Sized once: growing it would copy every service and hold both copies.
        self.services = IdMap::with_capacity(entries);
    }

    fn take(&mut self, entries: DeTable<'i>) -> bool {
        let batch = toml::de::Deserializer::from(serde_spanned::Spanned::new(0..0, entries));
        ExtendIdMap(&mut self.services).deserialize(batch).is_ok()
    }
}

/// Deserializes a map into an existing [`IdMap`], entry by entry as `IdMap`'s own
/// `Deserialize` does.
struct ExtendIdMap<'m, T>(&'m mut IdMap<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ExtendIdMap<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ExtendIdMap<'_, T> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((id, value)) = map.next_entry()? {
            self.0.insert(id, value);
        }
        Ok(())
    }
}

fn deserialize_toml(
    table: serde_spanned::Spanned<toml::de::DeTable<'_>>,
) -> Result<RawManifest, ParseFailure> {
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
    if let Some((word, expected)) = parse_unknown_variant(&message) {
        return match did_you_mean(word, expected.iter().copied()) {
            Some(close) => d.hint(format!("did you mean `{close}`?")),
            None => d.hint("write one of the words the message lists"),
        };
    }
    if message.starts_with("invalid type") {
        return d.hint("`docs/manifest.md` gives the type of every key");
    }
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

/// Reads serde's standard "unknown variant `x`, expected one of `a`, `b`" (or "expected
/// `a` or `b`") message: the word and the words expected.
fn parse_unknown_variant(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.trim().strip_prefix("unknown variant `")?;
    let (word, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    Some((word, expected))
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

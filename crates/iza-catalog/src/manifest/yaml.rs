//! Defines the YAML bridge: YAML text becomes a tree of [`Node`]s that keep their byte spans,
//! and that tree deserializes into the wire model the same way TOML does, including
//! [`Spanned`](super::spanned::Spanned) values and errors that know where they happened.
//!
//! serde-saphyr parses (anchors, aliases and merge keys included); this module only adds
//! what it does not do: speak the `serde_spanned` protocol the wire model relies on.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A YAML value and the bytes it came from.
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte span in the source.
    pub span: Range<usize>,
    /// The value.
    pub value: NodeValue,
}

/// The value of a YAML node.
#[derive(Debug, Clone)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

/// A YAML problem, with the span it concerns when known.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    /// What went wrong.
    pub message: String,
    /// Where.
    pub span: Option<Range<usize>>,
    /// For an unknown key: the key and the keys that were expected.
    pub unknown_key: Option<(String, Vec<&'static str>)>,
}

impl YamlError {
    fn or_span(mut self, span: &Range<usize>) -> YamlError {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for YamlError {}

impl de::Error for YamlError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        YamlError {
            message: msg.to_string(),
            span: None,
            unknown_key: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        YamlError {
            unknown_key: Some((field.to_owned(), expected.to_vec())),
            ..YamlError::custom(format_args!("unknown field `{field}`"))
        }
    }
}

/// Parses YAML text into a node tree (a syntax error is returned with its position). Keys
/// are strings as written, as in TOML: a plain key that YAML would read as a boolean or a
/// number (`on`, `yes`, `2024`) is kept as its text, so a task's `on:` is the key `on`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let mut node = serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let span = e.location().and_then(|l| {
            let s = l.span();
            match s.byte_offset().and_then(|o| usize::try_from(o).ok()) {
                Some(start) => Some(
                    start
                        ..start
                            + s.byte_len()
                                .and_then(|n| usize::try_from(n).ok())
                                .unwrap_or(0),
                ),
                None => offset_of(text, l.line(), l.column()).map(|start| start..start),
            }
        });
        let message = e.to_string();
        // The position is shown by the renderer; drop the parser's own "at line L, column C".
        let message = match message.rfind(" at line ") {
            Some(i) if span.is_some() => message[..i].to_owned(),
            _ => message,
        };
        YamlError {
            message,
            span,
            unknown_key: None,
        }
    })?;
    keys_as_written(&mut node, text);
    Ok(node)
}

/// Turns every boolean or numeric map key into the string it is written as.
fn keys_as_written(node: &mut Node, text: &str) {
    match &mut node.value {
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                let scalar = matches!(
                    key.value,
                    NodeValue::Bool(_)
                        | NodeValue::Int(_)
                        | NodeValue::UInt(_)
                        | NodeValue::Float(_)
                );
                if let Some(written) = text.get(key.span.clone())
                    && scalar
                    && !written.trim().is_empty()
                {
                    key.value = NodeValue::Str(written.trim().to_owned());
                }
                keys_as_written(value, text);
            }
        }
        NodeValue::Seq(items) => items
            .iter_mut()
            .for_each(|item| keys_as_written(item, text)),
        _ => {}
    }
}

/// The byte offset of a 1-based line and column (in characters), when it is inside the text.
fn offset_of(text: &str, line: u64, column: u64) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        let skip = usize::try_from(line - 2).ok()?;
        text.match_indices('\n').nth(skip)?.0 + 1
    };
    let rest = &text[line_start..];
    let column = usize::try_from(column.saturating_sub(1)).ok()?;
    let within = rest
        .char_indices()
        .nth(column)
        .map_or(rest.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Deserializes a node tree into `T`, keeping spans.
pub fn from_node<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, YamlError> {
    T::deserialize(NodeDeserializer(node)).map_err(|e| e.or_span(&node.span))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<NodeValue>::deserialize(d)?;
        let s = spanned.referenced.span();
        let start = s
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(0);
        let len = s
            .byte_len()
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(0);
        Ok(Node {
            span: start..start + len,
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_none<E>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
                NodeValue::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
                Ok(NodeValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
                Ok(if v >= 0 {
                    NodeValue::UInt(v.unsigned_abs())
                } else {
                    NodeValue::Int(v)
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
                Ok(NodeValue::UInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
                Ok(NodeValue::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
                Ok(NodeValue::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
                Ok(NodeValue::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<NodeValue, E> {
                Ok(NodeValue::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(NodeValue::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<Node, Node>()? {
                    entries.push((k, v));
                }
                Ok(NodeValue::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes the wire model from a [`Node`].
#[derive(Clone, Copy)]
struct NodeDeserializer<'de>(&'de Node);

impl<'de> IntoDeserializer<'de, YamlError> for NodeDeserializer<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for NodeDeserializer<'de> {
    type Error = YamlError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match &self.0.value {
            NodeValue::Null => visitor.visit_unit(),
            NodeValue::Bool(b) => visitor.visit_bool(*b),
            NodeValue::Int(i) => visitor.visit_i64(*i),
            NodeValue::UInt(u) => visitor.visit_u64(*u),
            NodeValue::Float(f) => visitor.visit_f64(*f),
            NodeValue::Str(s) => visitor.visit_borrowed_str(s),
            NodeValue::Seq(items) => visitor.visit_seq(Seq(items.iter())),
            NodeValue::Map(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match self.0.value {
            NodeValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        if serde_spanned::de::is_spanned(name) {
            visitor.visit_map(serde_spanned::de::SpannedDeserializer::new(
                self,
                self.0.span.clone(),
            ))
        } else {
            self.deserialize_any(visitor)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        match &self.0.value {
            NodeValue::Str(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

impl NodeDeserializer<'_> {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match &self.0.value {
            NodeValue::Null => de::Unexpected::Unit,
            NodeValue::Bool(b) => de::Unexpected::Bool(*b),
            NodeValue::Int(i) => de::Unexpected::Signed(*i),
            NodeValue::UInt(u) => de::Unexpected::Unsigned(*u),
            NodeValue::Float(f) => de::Unexpected::Float(*f),
            NodeValue::Str(s) => de::Unexpected::Str(s),
            NodeValue::Seq(_) => de::Unexpected::Seq,
            NodeValue::Map(_) => de::Unexpected::Map,
        }
    }
}

struct Seq<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = YamlError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, YamlError> {
        match self.0.next() {
            None => Ok(None),
            Some(node) => seed
                .deserialize(NodeDeserializer(node))
                .map(Some)
                .map_err(|e| e.or_span(&node.span)),
        }
    }
}

struct Map<'de> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = YamlError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, YamlError> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(NodeDeserializer(key))
                    .map(Some)
                    .map_err(|e| e.or_span(&key.span))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| <YamlError as de::Error>::custom("value requested before key"))?;
        seed.deserialize(NodeDeserializer(node))
            .map_err(|e| e.or_span(&node.span))
    }
}

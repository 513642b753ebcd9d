//! Defines [`Spanned`]: a manifest value together with the byte range it was read from.
//!
//! It wraps `serde_spanned::Spanned`, whose protocol the TOML deserializer speaks natively
//! and the YAML bridge (`manifest::yaml`) speaks too, and adds a JSON Schema that is the
//! schema of the inner value, so spans never show in `iza schema`.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

/// A value and where it stands in the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Spanned<T>(serde_spanned::Spanned<T>);

impl<T> Spanned<T> {
    /// Wraps a value with a span (used by importers and tests, which have no source).
    pub fn new(span: Range<usize>, value: T) -> Spanned<T> {
        Spanned(serde_spanned::Spanned::new(span, value))
    }

    /// The byte range in the source.
    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }

    /// The value.
    pub fn get(&self) -> &T {
        self.0.get_ref()
    }

    /// The value, owned.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

impl std::borrow::Borrow<str> for Spanned<String> {
    fn borrow(&self) -> &str {
        self.get()
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

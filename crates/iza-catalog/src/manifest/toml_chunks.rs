//! Defines [`parse_in_chunks`]: a large TOML document parsed a group of tables at a time, so
//! that the parser's transient token and event vectors never hold the whole file at once,
//! and (with a [`Settle`]) the entries of one big table handed over as soon as they are
//! complete, so that the tree of all of them never exists either.
//!
//! `toml::de::DeTable::parse` lexes its whole input into a vector of tokens, turns that into
//! a vector of events and only then builds the tree; on a 16 MB manifest the three together
//! peak at about 600 MB. Here the text is cut at top-level table headers (`[a.b]`,
//! `[[a.b]]` at the start of a line, outside any array, inline table or string, found with
//! `toml_parser`'s lexer), each piece is parsed on its own, its spans are moved by the
//! piece's offset, and the pieces' trees are merged the way the whole-document parser would
//! have built them.
//!
//! The merge only accepts what it can prove the whole-document parser accepts and builds
//! the same way; on anything else (a piece that does not parse, a table defined twice, a
//! header that reaches into a table made by a key/value line, a table re-opened inside one
//! piece, very deep nesting) it gives up and the caller parses the whole document, so
//! errors and their positions are always `toml`'s own. The scan for headers is exact on a
//! document without syntax errors; on one with errors, the chunk holding the first error
//! starts where everything before is valid, so it meets that error as the whole-document
//! parse does and fails, and the whole document is parsed.
//!
//! How a table came to be is read from its span, since `toml` keeps its own flags private:
//! a table defined by a header spans that header (and starts where the header starts), a
//! table created on the way to a header (`a` in `[a.b]`) spans that key (inside a header
//! line), an array of tables spans its first `[[...]]` header, and everything else was
//! written on a key/value line.

use std::collections::HashMap;
use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeString, DeTable, DeValue};
use toml::map::Entry;
use toml_parser::lexer::{Token, TokenKind};

/// Documents at least this long are parsed in chunks.
pub(crate) const CHUNKED_FROM_BYTES: usize = 1 << 20;

/// The least size of one chunk; a chunk ends at the first header past it.
pub(crate) const CHUNK_BYTES: usize = 512 << 10;

/// Deeper trees are left to the whole-document parser (the walks here recurse).
const MAX_DEPTH: usize = 128;

/// Takes the entries of one top-level table (`services`) out of the tree as soon as they
/// are settled, so that they can be turned into their final form while the parse goes on
/// and the tree never holds them all.
///
/// An entry is settled after the last chunk with a header under it (`[table.name...]`), or
/// at once for one that no header names (defined by a key/value line). Its value in the
/// tree is then replaced with a placeholder that no later chunk may reach: the merge gives
/// up if one does, so a settled entry is never changed afterwards. (A later `[table]` header
/// cannot add to an existing entry either way: the merge gives up on a key/value line that
/// meets an existing key.)
pub(crate) trait Settle<'i> {
    /// The top-level table whose entries are handed over.
    fn table(&self) -> &str;
    /// Called once, before any entry is handed over, with the number of entries the headers
    /// name: the table has that many, plus any defined by key/value lines.
    fn expect(&mut self, entries: usize);
    /// Takes settled entries, in the order they were settled; false gives up the chunked
    /// parse.
    fn take(&mut self, entries: DeTable<'i>) -> bool;
}

/// A document parsed in chunks.
pub(crate) struct Chunked<'i> {
    /// The document's tree; with a [`Settle`], the settled table's values are placeholders.
    pub(crate) tree: Spanned<DeTable<'i>>,
    /// Whether every entry of the settled table went to [`Settle::take`]; false when the
    /// document has no such table or it is not made of headers (it then stays in the tree).
    pub(crate) settled: bool,
}

/// Why [`parse_in_chunks`] gave up; the caller then parses the document whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GaveUp {
    /// A chunk did not parse: the document has a syntax error (or a duplicate key).
    ChunkError,
    /// Anything else: one chunk only, a merge that is not certain, [`Settle`] refusing or
    /// a settled entry reached again.
    Doubt,
}

/// Parses `text` in chunks of at least `chunk_bytes` (each ending before a top-level header),
/// giving the same tree as `DeTable::parse(text)` (less what `settle` took), or why not:
/// the result could differ from the whole-document parse, the text has an error, or
/// `settle` gave up.
pub(crate) fn parse_in_chunks<'i>(
    text: &'i str,
    chunk_bytes: usize,
    mut settle: Option<&mut dyn Settle<'i>>,
) -> Result<Chunked<'i>, GaveUp> {
    let headers = Headers::scan(text).ok_or(GaveUp::ChunkError)?;
    let starts = headers.chunk_starts(chunk_bytes);
    if starts.len() < 2 {
        return Err(GaveUp::Doubt);
    }
    let plan = settle
        .as_deref_mut()
        .map(|settle| SettlePlan::new(text, &headers, &starts, settle));
    let mut root = DeTable::new();
    for (index, &start) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(text.len());
        let chunk = text.get(start..end).ok_or(GaveUp::Doubt)?;
        let tree = DeTable::parse(chunk).map_err(|_| GaveUp::ChunkError)?;
        let (tree, _) = shift_table(tree.into_inner(), start, &headers, 0).ok_or(GaveUp::Doubt)?;
        if let (Some(settle), Some(plan)) = (settle.as_deref_mut(), &plan) {
            // An entry left here is touched again by the chunk of its last header.
            let mut ready = table_keys(&tree, settle.table());
            ready.retain(|key| plan.settles(key, index));
            merge_tables(&mut root, tree, &headers, 0).ok_or(GaveUp::Doubt)?;
            settle_entries(&mut root, &headers, settle, ready).ok_or(GaveUp::Doubt)?;
        } else {
            merge_tables(&mut root, tree, &headers, 0).ok_or(GaveUp::Doubt)?;
        }
    }
    let settled = settle.is_some_and(|settle| {
        root.get(settle.table()).is_some_and(|table| {
            matches!(headers.origin(table), Origin::Header | Origin::HeaderPath)
        })
    });
    Ok(Chunked {
        tree: Spanned::new(0..0, root),
        settled,
    })
}

/// When each entry of the settled table can be settled, read from the headers.
struct SettlePlan<'i> {
    /// The index of the last chunk with a header under each entry.
    last_header: HashMap<DeString<'i>, usize>,
}

impl<'i> SettlePlan<'i> {
    fn new(
        text: &'i str,
        headers: &Headers,
        starts: &[usize],
        settle: &mut dyn Settle<'i>,
    ) -> SettlePlan<'i> {
        let mut plan = SettlePlan {
            last_header: HashMap::with_capacity(headers.0.len()),
        };
        let mut chunk = 0;
        for header in &headers.0 {
            while starts
                .get(chunk + 1)
                .is_some_and(|&next| next <= header.line_start)
            {
                chunk += 1;
            }
            let mut keys = header.keys(text);
            if keys.next().as_deref() != Some(settle.table()) {
                continue;
            }
            if let Some(key) = keys.next() {
                plan.last_header.insert(key, chunk);
            }
        }
        settle.expect(plan.last_header.len());
        plan
    }

    /// Whether the entry `key`, touched by chunk `index` or before, is settled after it.
    fn settles(&self, key: &str, index: usize) -> bool {
        self.last_header.get(key).is_none_or(|&last| last <= index)
    }
}

/// The keys of `root[name]` when it is a table.
fn table_keys<'i>(root: &DeTable<'i>, name: &str) -> Vec<DeString<'i>> {
    match root.get(name).map(Spanned::get_ref) {
        Some(DeValue::Table(table)) => table.keys().map(|key| key.get_ref().clone()).collect(),
        _ => Vec::new(),
    }
}

/// Hands the entries `keys` of the settled table to `settle`, leaving placeholders; takes
/// nothing when the table is not one made of headers. `None` when `settle` gives up.
fn settle_entries<'i>(
    root: &mut DeTable<'i>,
    headers: &Headers,
    settle: &mut dyn Settle<'i>,
    keys: Vec<DeString<'i>>,
) -> Option<()> {
    let Some(value) = root.get_mut(settle.table()) else {
        return Some(());
    };
    if !matches!(headers.origin(value), Origin::Header | Origin::HeaderPath) {
        return Some(());
    }
    let table = table_mut(value)?;
    let mut batch = DeTable::with_capacity(keys.len());
    for name in keys {
        if let Entry::Occupied(mut entry) = table.entry(Spanned::new(0..0, name)) {
            let key = entry.key().clone();
            let slot = entry.get_mut();
            let placeholder = Spanned::new(slot.span(), DeValue::Boolean(false));
            batch.insert(key, std::mem::replace(slot, placeholder));
        }
    }
    if !batch.is_empty() && !settle.take(batch) {
        return None;
    }
    Some(())
}

/// One top-level header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HeaderLine {
    /// Where its line starts (a chunk may start here).
    line_start: usize,
    /// Where its `[` is: the start of the header's span.
    open: usize,
    /// Where its line ends (before the newline).
    line_end: usize,
    /// Its first two keys, as written.
    keys: [Option<Token>; 2],
}

impl HeaderLine {
    /// Its first two keys, decoded (`[a."b.c".d]` gives `a`, `b.c`).
    fn keys<'i>(&self, text: &'i str) -> impl Iterator<Item = DeString<'i>> {
        let source = toml_parser::Source::new(text);
        self.keys.into_iter().flatten().map(move |token| {
            let mut key = DeString::Borrowed("");
            if let Some(raw) = source.get(token) {
                raw.decode_key(&mut key, &mut ());
            }
            key
        })
    }
}

/// Every top-level header line of a document, in order.
#[derive(Debug)]
struct Headers(Vec<HeaderLine>);

/// How a table or array in the tree came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A table defined by its own `[...]` header.
    Header,
    /// An array of tables, `[[...]]`.
    HeaderArray,
    /// A table created on the way to a header (`a` in `[a.b]`), never defined itself.
    HeaderPath,
    /// A value, inline table or dotted-key table written on a key/value line.
    KeyValue,
}

impl Headers {
    /// Finds every header line: a `[` that is the first token of its line while no array or
    /// inline table is open. `None` when brackets close more than they open.
    fn scan(text: &str) -> Option<Self> {
        let mut headers = Vec::new();
        let mut depth: usize = 0;
        let mut line_start = 0;
        let mut at_line_start = true;
        // The header line being read, and whether its keys are over (a `]` was seen).
        let mut open_header: Option<(HeaderLine, bool)> = None;
        for token in toml_parser::Source::new(text).lex() {
            let span = token.span();
            match token.kind() {
                TokenKind::Newline | TokenKind::Eof => {
                    if let Some((mut header, _)) = open_header.take() {
                        header.line_end = span.start();
                        headers.push(header);
                    }
                    line_start = span.end();
                    at_line_start = true;
                }
                TokenKind::Whitespace => {}
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                    if at_line_start && depth == 0 && token.kind() == TokenKind::LeftSquareBracket {
                        let header = HeaderLine {
                            line_start,
                            open: span.start(),
                            line_end: span.end(),
                            keys: [None; 2],
                        };
                        open_header = Some((header, false));
                    }
                    depth += 1;
                    at_line_start = false;
                }
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.checked_sub(1)?;
                    at_line_start = false;
                    if let Some((_, keys_over)) = &mut open_header {
                        *keys_over = true;
                    }
                }
                TokenKind::Atom | TokenKind::BasicString | TokenKind::LiteralString => {
                    at_line_start = false;
                    if let Some((header, false)) = &mut open_header
                        && let Some(slot) = header.keys.iter_mut().find(|k| k.is_none())
                    {
                        *slot = Some(token);
                    }
                }
                _ => at_line_start = false,
            }
        }
        Some(Headers(headers))
    }

    /// Where the chunks start: at 0, then at the first header line at least `chunk_bytes`
    /// after the previous start.
    fn chunk_starts(&self, chunk_bytes: usize) -> Vec<usize> {
        let mut starts = vec![0];
        let mut last = 0;
        for header in &self.0 {
            if header.line_start > last && header.line_start - last >= chunk_bytes {
                starts.push(header.line_start);
                last = header.line_start;
            }
        }
        starts
    }

    /// The header whose `[` is at or before `position`, if any.
    fn at_or_before(&self, position: usize) -> Option<&HeaderLine> {
        let after = self.0.partition_point(|h| h.open <= position);
        after.checked_sub(1).and_then(|i| self.0.get(i))
    }

    /// Whether a header's span starts at `position`.
    fn starts_at(&self, position: usize) -> bool {
        self.at_or_before(position)
            .is_some_and(|h| h.open == position)
    }

    /// Whether `position` is inside a header line, after its `[`.
    fn inside(&self, position: usize) -> bool {
        self.at_or_before(position)
            .is_some_and(|h| h.open < position && position < h.line_end)
    }

    fn origin(&self, value: &Spanned<DeValue<'_>>) -> Origin {
        let start = value.span().start;
        match value.get_ref() {
            DeValue::Table(_) if self.starts_at(start) => Origin::Header,
            DeValue::Table(_) if self.inside(start) => Origin::HeaderPath,
            DeValue::Array(_) if self.starts_at(start) => Origin::HeaderArray,
            _ => Origin::KeyValue,
        }
    }
}

fn shifted(span: Range<usize>, offset: usize) -> Range<usize> {
    span.start + offset..span.end + offset
}

/// Moves every span in `table` by `offset`. Also gives the first key position in it, and
/// `None` when a table defined by a header holds keys written before its header: a table
/// re-opened inside the chunk, which the merge cannot follow (see [`merge_tables`]).
///
/// Values and arrays are moved in place; a table is rebuilt, as its keys cannot be changed
/// in place.
fn shift_table<'i>(
    table: DeTable<'i>,
    offset: usize,
    headers: &Headers,
    depth: usize,
) -> Option<(DeTable<'i>, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut moved = DeTable::with_capacity(table.len());
    let mut first_key = usize::MAX;
    for (key, mut value) in table {
        let key_span = shifted(key.span(), offset);
        first_key = first_key.min(key_span.start);
        first_key = first_key.min(shift_value(&mut value, offset, headers, depth + 1)?);
        moved.insert(Spanned::new(key_span, key.into_inner()), value);
    }
    Some((moved, first_key))
}

/// Moves every span in `value` by `offset`; gives the first key position in it, as
/// [`shift_table`] does.
fn shift_value(
    value: &mut Spanned<DeValue<'_>>,
    offset: usize,
    headers: &Headers,
    depth: usize,
) -> Option<usize> {
    let span = shifted(value.span(), offset);
    let inner = std::mem::replace(value.get_mut(), DeValue::Boolean(false));
    let (inner, first_key) = match inner {
        DeValue::Table(table) => {
            let (table, first_key) = shift_table(table, offset, headers, depth)?;
            if first_key < span.start && headers.starts_at(span.start) {
                return None;
            }
            (DeValue::Table(table), first_key)
        }
        DeValue::Array(mut items) => {
            let mut first_key = usize::MAX;
            for item in items.iter_mut() {
                first_key = first_key.min(shift_value(item, offset, headers, depth + 1)?);
            }
            (DeValue::Array(items), first_key)
        }
        scalar => (scalar, usize::MAX),
    };
    *value = Spanned::new(span, inner);
    Some(first_key)
}

/// Merges a later chunk's tree into the tree so far, as the whole-document parser would
/// have added the chunk's tables to it, or `None` where that parser would report an error
/// or its result is not certain:
///
/// * a key new to the table is added at its end;
/// * a table created on the way to a header in the chunk merges into an existing table made
///   by a header or on the way to one, keeping the existing key and span; into an existing
///   array of tables, it merges into the array's last table;
/// * a table defined by a header in the chunk re-opens an existing table created on the way
///   to a header: that table moves to the end of its parent and takes the new key and span;
/// * an array of tables in the chunk extends an existing one;
/// * anything else meeting an existing key (a table defined twice, a key/value line, a
///   header reaching into a value) gives `None`.
///
/// A header-made table can only have been touched by a dotted key when it was re-opened, and
/// re-opening within a chunk makes [`shift_table`] give up, so the flag `toml` keeps for
/// dotted tables never matters here.
fn merge_tables<'i>(
    into: &mut DeTable<'i>,
    from: DeTable<'i>,
    headers: &Headers,
    depth: usize,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    for (key, value) in from {
        let name: &str = key.get_ref();
        let Some(existing) = into.get(name) else {
            into.insert(key, value);
            continue;
        };
        match (headers.origin(existing), headers.origin(&value)) {
            (Origin::Header | Origin::HeaderPath, Origin::HeaderPath) => {
                let target = table_mut(into.get_mut(name)?)?;
                merge_tables(target, into_table(value)?, headers, depth + 1)?;
            }
            (Origin::HeaderPath, Origin::Header) => {
                let (_, existing) = into.remove_entry(name)?;
                let mut table = into_table(existing)?;
                let span = value.span();
                merge_tables(&mut table, into_table(value)?, headers, depth + 1)?;
                into.insert(key, Spanned::new(span, DeValue::Table(table)));
            }
            (Origin::HeaderArray, Origin::HeaderArray) => {
                let DeValue::Array(items) = into.get_mut(name)?.get_mut() else {
                    return None;
                };
                let DeValue::Array(more) = value.into_inner() else {
                    return None;
                };
                for item in more {
                    items.push(item);
                }
            }
            (Origin::HeaderArray, Origin::HeaderPath) => {
                let DeValue::Array(items) = into.get_mut(name)?.get_mut() else {
                    return None;
                };
                let target = table_mut(items.last_mut()?)?;
                merge_tables(target, into_table(value)?, headers, depth + 1)?;
            }
            _ => return None,
        }
    }
    Some(())
}

fn table_mut<'t, 'i>(value: &'t mut Spanned<DeValue<'i>>) -> Option<&'t mut DeTable<'i>> {
    match value.get_mut() {
        DeValue::Table(table) => Some(table),
        _ => None,
    }
}

fn into_table(value: Spanned<DeValue<'_>>) -> Option<DeTable<'_>> {
    match value.into_inner() {
        DeValue::Table(table) => Some(table),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

//! Defines [`SourceFile`]: the text of one manifest and the map from byte offsets to
//! line and column that every diagnostic uses to point at it. The line starts are computed
//! once, when the file is wrapped; the text renderer of diagnostics reads them through
//! codespan's [`Files`] trait, so rendering `n` diagnostics costs `O(n log lines)`, not a
//! scan of the whole file per diagnostic.

use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::files::{Error as FilesError, Files};

/// The syntax a manifest is written in, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// TOML, the default (`iza.toml`).
    Toml,
    /// YAML (`iza.yaml`, `iza.yml`).
    Yaml,
}

impl Syntax {
    /// The syntax for a path: `.yaml`/`.yml` is YAML, everything else TOML.
    pub fn for_path(path: &Path) -> Syntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Syntax::Yaml,
            _ => Syntax::Toml,
        }
    }
}

/// One manifest's text, its name for messages, and its line starts.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user gave it (`-` for standard input).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
    /// The syntax the text is parsed as.
    pub syntax: Syntax,
    line_starts: Vec<usize>,
}

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineColumn {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wraps text read from `path`.
    pub fn new(path: impl Into<PathBuf>, text: String, syntax: Syntax) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.into(),
            text,
            syntax,
            line_starts,
        }
    }

    /// The path for messages, with `/` separators.
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// Line and column of a byte offset; offsets past the end point just after the last character.
    pub fn line_column(&self, offset: usize) -> LineColumn {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        LineColumn {
            line: line + 1,
            column: self.text[start..end].chars().count() + 1,
        }
    }

    /// Clamps a span to the text and to character boundaries.
    pub fn clamp(&self, span: Range<usize>) -> Range<usize> {
        let fix = |mut i: usize| {
            i = i.min(self.text.len());
            while !self.text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = fix(span.start);
        start..fix(span.end).max(start)
    }
}

/// The one file of a [`SourceFile`] for codespan's renderer, with the line starts computed
/// once instead of on each diagnostic (as `SimpleFile::new` would).
impl<'a> Files<'a> for SourceFile {
    type FileId = ();
    type Name = String;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<String, FilesError> {
        Ok(SourceFile::name(self))
    }

    fn source(&'a self, (): ()) -> Result<&'a str, FilesError> {
        Ok(&self.text)
    }

    fn line_index(&'a self, (): (), byte_index: usize) -> Result<usize, FilesError> {
        Ok(self
            .line_starts
            .binary_search(&byte_index)
            .unwrap_or_else(|next| next - 1))
    }

    fn line_range(&'a self, (): (), line_index: usize) -> Result<Range<usize>, FilesError> {
        let start = |i: usize| match i.cmp(&self.line_starts.len()) {
            std::cmp::Ordering::Less => Ok(self.line_starts[i]),
            std::cmp::Ordering::Equal => Ok(self.text.len()),
            std::cmp::Ordering::Greater => Err(FilesError::LineTooLarge {
                given: i,
                max: self.line_starts.len() - 1,
            }),
        };
        Ok(start(line_index)?..start(line_index + 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_from_one() {
        let f = SourceFile::new("m.toml", "a = 1\nbé = 2\n".into(), Syntax::Toml);
        let cases = [
            (0, (1, 1)),
            (4, (1, 5)),
            (6, (2, 1)),
            (9, (2, 3)),
            (99, (3, 1)),
        ];
        for (offset, (line, column)) in cases {
            assert_eq!(
                f.line_column(offset),
                LineColumn { line, column },
                "offset {offset}"
            );
        }
    }
}

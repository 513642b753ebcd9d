//! Plain-text tables of the CLI (`iza status`, `iza ps`): a header, columns padded to their
//! widest cell, two spaces apart, numbers right-aligned; the last column is not padded.

use std::fmt::Write as _;

/// How a column's cells sit in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// One column: its header and alignment.
pub(crate) type Column = (&'static str, Align);

/// The table of `rows` (each as many cells as `columns`), ending with a newline.
pub(crate) fn render(columns: &[Column], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([header.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, ((_, align), width)) in columns.iter().zip(&widths).enumerate() {
            let cell = row.get(i).map_or("", String::as_str);
            let last = i + 1 == columns.len();
            if i > 0 {
                line.push_str("  ");
            }
            let _ = match (align, last) {
                (Align::Right, _) => write!(line, "{cell:>width$}"),
                (Align::Left, true) => write!(line, "{cell}"),
                (Align::Left, false) => write!(line, "{cell:width$}"),
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `4s`, `3m12s`, `2h05m`, `3d04h`.
pub(crate) fn human(millis: i64) -> String {
    let s = millis.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_numbers_sit_right() {
        let columns = [
            ("NAME", Align::Left),
            ("N", Align::Right),
            ("NOTE", Align::Left),
        ];
        let rows = vec![
            vec!["api".to_owned(), "12".to_owned(), "fine".to_owned()],
            vec!["database".to_owned(), "3".to_owned(), String::new()],
        ];
        assert_eq!(
            render(&columns, &rows),
            "NAME       N  NOTE\napi       12  fine\ndatabase   3\n"
        );
    }
}

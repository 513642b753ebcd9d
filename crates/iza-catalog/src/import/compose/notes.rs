//! The importer's notes, grouped so that what matters is not drowned: the same sentence
//! about several services is one line naming them (or counting them past a few), repeated
//! findings of one kind (variables without a value, `environment` entries the shell would
//! fill, ...) are one line listing them, and every note is one line.

use indexmap::{IndexMap, IndexSet};

/// Subjects named in one line before the rest are counted.
const SHOWN_SUBJECTS: usize = 8;
/// Items named for one subject before the rest are counted.
const SHOWN_ITEMS: usize = 4;

#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    /// A sentence of its own.
    Plain(String),
    /// A sentence about services: one line names every service it applies to.
    Service(String),
    /// A kind of finding: one line lists the subjects and their items.
    Kind(String),
}

#[derive(Debug)]
enum Entry {
    Plain,
    Services(IndexSet<String>),
    Items(IndexMap<String, IndexSet<String>>),
}

/// Notes in the order they were first added, each once.
#[derive(Debug, Default)]
pub(crate) struct Notes(IndexMap<Key, Entry>);

impl Notes {
    /// Adds a sentence unless the same one is already there.
    pub(crate) fn add(&mut self, note: String) {
        self.0.entry(Key::Plain(note)).or_insert(Entry::Plain);
    }

    /// Adds a sentence about service `id`; the same sentence about several services is
    /// one note naming them all.
    pub(crate) fn service(&mut self, id: &str, message: String) {
        if let Entry::Services(ids) = self
            .0
            .entry(Key::Service(message))
            .or_insert_with(|| Entry::Services(IndexSet::new()))
        {
            ids.insert(id.to_owned());
        }
    }

    /// Adds `item` of `subject` to the one note of `kind` (`kind: `a` (`x`, `y`), `b` (`z`)`).
    pub(crate) fn item(&mut self, kind: &str, subject: &str, item: &str) {
        if let Entry::Items(subjects) = self
            .0
            .entry(Key::Kind(kind.to_owned()))
            .or_insert_with(|| Entry::Items(IndexMap::new()))
        {
            subjects
                .entry(subject.to_owned())
                .or_default()
                .insert(item.to_owned());
        }
    }

    /// How many notes there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The notes, one line each.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(key, entry)| one_line(&render(key, entry)))
            .collect()
    }
}

fn render(key: Key, entry: Entry) -> String {
    match (key, entry) {
        (Key::Service(message), Entry::Services(ids)) => {
            let ids: Vec<String> = ids.into_iter().collect();
            if ids.len() == 1 {
                format!("service `{}`: {message}", ids[0])
            } else {
                format!(
                    "services {}: {message}",
                    names(&ids, SHOWN_SUBJECTS, "more")
                )
            }
        }
        (Key::Kind(kind), Entry::Items(subjects)) => {
            let total = subjects.len();
            let mut shown: Vec<String> = subjects
                .into_iter()
                .take(SHOWN_SUBJECTS)
                .map(|(subject, items)| {
                    let items: Vec<String> = items.into_iter().filter(|i| !i.is_empty()).collect();
                    if items.is_empty() {
                        format!("`{subject}`")
                    } else {
                        format!("`{subject}` ({})", names(&items, SHOWN_ITEMS, "more"))
                    }
                })
                .collect();
            if total > SHOWN_SUBJECTS {
                shown.push(format!("and {} more", total - SHOWN_SUBJECTS));
            }
            format!("{kind}: {}", shown.join(", "))
        }
        (Key::Plain(text), _) | (Key::Service(text), _) | (Key::Kind(text), _) => text,
    }
}

/// `a`, `b`, `c` and 4 more.
fn names(items: &[String], shown: usize, more: &str) -> String {
    let mut out: Vec<String> = items.iter().take(shown).map(|i| format!("`{i}`")).collect();
    if items.len() > shown {
        out.push(format!("and {} {more}", items.len() - shown));
    }
    out.join(", ")
}

/// The text on one line: every run of whitespace holding a line break becomes one space.
pub(crate) fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r']) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<String> = None;
    for c in text.chars() {
        if c.is_whitespace() {
            pending.get_or_insert_with(String::new).push(c);
            continue;
        }
        if let Some(space) = pending.take() {
            if space.contains(['\n', '\r']) {
                out.push(' ');
            } else {
                out.push_str(&space);
            }
        }
        out.push(c);
    }
    if let Some(space) = pending
        && !space.contains(['\n', '\r'])
    {
        out.push_str(&space);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Notes, one_line};

    #[test]
    fn notes_are_grouped_and_one_line_each() {
        let mut notes = Notes::default();
        notes.service("web", "`volumes` is not mapped".to_owned());
        notes.add("a plain note\nover two lines".to_owned());
        notes.service("db", "`volumes` is not mapped".to_owned());
        notes.service("db", "`restart` is not mapped".to_owned());
        for i in 0..10 {
            notes.item("kind", &format!("s{i}"), "X");
        }
        notes.item("other", "web", "A");
        notes.item("other", "web", "B");
        notes.item("other", "web", "A");
        for item in ["1", "2", "3", "4", "5", "6"] {
            notes.item("many", "api", item);
        }
        assert_eq!(notes.len(), 6);
        assert_eq!(
            notes.into_vec(),
            [
                "services `web`, `db`: `volumes` is not mapped",
                "a plain note over two lines",
                "service `db`: `restart` is not mapped",
                "kind: `s0` (`X`), `s1` (`X`), `s2` (`X`), `s3` (`X`), `s4` (`X`), `s5` (`X`), `s6` (`X`), `s7` (`X`), and 2 more",
                "other: `web` (`A`, `B`)",
                "many: `api` (`1`, `2`, `3`, `4`, and 2 more)",
            ]
        );
    }

    #[test]
    fn line_breaks_become_spaces() {
        assert_eq!(one_line("a\n  b\r\nc d"), "a b c d");
        assert_eq!(one_line("plain  text"), "plain  text");
        assert_eq!(one_line("end\n"), "end");
    }
}

//! Imports an ecosystem analysis written in Markdown, in the shape of the seed document
//! (`# Title`, a summary of `**Label**: value` lines, `## Section`s of
//! `### **Service** - `localhost:PORT`` headings with bullets, infrastructure lines,
//! agent lists, a flow in a code block, channels and prioritised tasks).
//!
//! It copes with the seed as it is: emoji turned to mojibake, decorations in headings, a
//! code block closed by a second opening fence, a document that stops mid-section.
//! Reading is in `reader` (lines in `lines`, inline shapes in `inline`, guesses in
//! `infer`); writing the manifest and resolving references in `emit`.
//! `docs/import-markdown.md` lists every mapping and note.

mod document;
mod emit;
mod ids;
mod infer;
mod inline;
mod lines;
mod reader;

use super::Imported;

/// Imports a Markdown ecosystem analysis. It never fails: whatever it cannot map is a note.
pub fn import(text: &str) -> Imported {
    let (document, mut notes) = reader::read(text);
    let manifest = emit::manifest(&document, &mut notes);
    sort_by_line(&mut notes);
    Imported { manifest, notes }
}

/// Orders notes by the line they name (`line 12: ...`); notes about the whole document last.
fn sort_by_line(notes: &mut [String]) {
    notes.sort_by_key(|note| {
        note.strip_prefix("line ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
}

#[cfg(test)]
mod tests {
    use super::import;

    /// Small documents and the one note each must produce.
    #[test]
    fn notes_name_what_was_not_mapped() {
        let cases = [
            ("# A\n# B\n", "line 2: \"B\" was not mapped"),
            (
                "# A\n## S\n### Setup\n```sh\nmake\n```\n",
                "line 4: a code block (1 lines) was not mapped",
            ),
            (
                "# A\n## S\n### **Flow**\n```text\nA (1)\n↓\nB (2)\n",
                "line 4: the code block opened here is never closed",
            ),
            (
                "## Roles\n### **Tier 999: Giants**\n- **Big Agent**: be big\n",
                "line 2: tier `999` is not a number from 1 to 3; it is ignored",
            ),
            (
                "### **Agent Tasks**\n- **A Agent** (tier 2, on call): watch\n",
                "line 2: \"(on call)\" of agent \"A Agent\" was not mapped",
            ),
            (
                "### **Agent Tasks**\n- **A Agent** (reports to Nobody): watch\n",
                "line 2: agent `a` reports to \"Nobody\", which is no other agent of the document",
            ),
            (
                "## Core\n### **App** - `localhost:3000`\n- **Description**: one\n- loose words\n",
                "line 4: \"loose words\" was not mapped",
            ),
            (
                "## Infra\n- **Cache** (`9-1`): Redis\n",
                "line 2: port range `9-1` ends before it starts; \"Cache\" gets no port",
            ),
            (
                "## Empty\n## Next\n- x\n",
                "line 1: \"Empty\" has nothing under it",
            ),
        ];
        for (text, note) in cases {
            let imported = import(text);
            assert!(
                imported.notes.iter().any(|n| n.starts_with(note)),
                "{text:?}: expected a note starting {note:?}, got {:#?}",
                imported.notes
            );
        }
    }

    #[test]
    fn agents_read_tier_and_reporting_line_from_the_parenthesis() {
        let text = "## Agent Roles\n### **Tier 1: Heads**\n- **Chief Agent**: lead\n### **Crew Agents**\n- **Deck Agent** (tier 2, reports to Chief): swab, scrub\n";
        let manifest = import(text).manifest;
        let deck = &manifest["agents"]["deck"];
        assert_eq!(deck["tier"].as_integer(), Some(2));
        assert_eq!(deck["reports_to"].as_str(), Some("chief"));
        assert!(
            deck.get("tasks").is_none(),
            "role definitions carry no tasks"
        );
    }

    #[test]
    fn empty_and_junk_input_give_a_bare_manifest() {
        for text in ["", "\n\n", "üåê", "```", "- **", "###"] {
            let imported = import(text);
            assert_eq!(
                imported
                    .manifest
                    .get("version")
                    .and_then(toml::Value::as_integer),
                Some(1)
            );
            assert!(imported.manifest.get("services").is_none(), "{text:?}");
        }
    }
}

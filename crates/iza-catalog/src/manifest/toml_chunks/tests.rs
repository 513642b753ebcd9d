//! Tests that the chunked parse gives exactly what the whole-document parse gives: the same
//! `DeTable` (values, key order, every span) whenever it does not give up, and the same
//! `RawManifest` or the same diagnostics through `parse_toml_with`, on every TOML file in
//! the repository, on hand-written edge cases and on generated documents.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::select;
use toml::de::DeTable;

use super::parse_in_chunks;
use crate::manifest::parse::{TomlPath, parse_toml_with};

/// The whole-document tree, as `Debug` text (it shows every span), when the text parses.
fn whole_tree(text: &str) -> Option<String> {
    DeTable::parse(text).ok().map(|tree| format!("{tree:?}"))
}

/// The chunked tree, as `Debug` text, unless the chunked parse gives up.
fn chunked_tree(text: &str, chunk_bytes: usize) -> Option<String> {
    parse_in_chunks(text, chunk_bytes, None)
        .ok()
        .map(|chunked| format!("{:?}", chunked.tree))
}

/// What parsing `text` chunked and whole gave, and which way the chunked call took.
struct Compared {
    /// The chunked tree was used (it equals the whole tree: checked).
    tree_chunked: bool,
    path: TomlPath,
    chunked: String,
    whole: String,
}

fn compare(text: &str, chunk_bytes: usize) -> Compared {
    let tree = chunked_tree(text, chunk_bytes);
    if let Some(tree) = &tree {
        assert_eq!(
            Some(tree),
            whole_tree(text).as_ref(),
            "chunked tree differs ({chunk_bytes}-byte chunks) for:\n{text}"
        );
    }
    let (chunked, path) = parse_toml_with(text, Some(chunk_bytes));
    let (whole, whole_path) = parse_toml_with(text, None);
    assert_eq!(whole_path, TomlPath::Whole);
    Compared {
        tree_chunked: tree.is_some(),
        path,
        chunked: format!("{chunked:?}"),
        whole: format!("{whole:?}"),
    }
}

fn toml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            toml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "toml") {
            found.push(path);
        }
    }
}

#[test]
fn every_toml_file_in_the_repository_parses_the_same_in_chunks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    toml_files(&root.join("fixtures"), &mut files);
    toml_files(&root.join("examples"), &mut files);
    files.sort();
    assert!(files.len() >= 10, "found only {files:?}");
    let mut streamed = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("fixture is UTF-8");
        let valid = whole_tree(&text).is_some();
        for chunk_bytes in [1, 64, 1024] {
            let compared = compare(&text, chunk_bytes);
            assert_eq!(
                compared.chunked,
                compared.whole,
                "{} ({chunk_bytes}-byte chunks)",
                file.display()
            );
            let several = text.lines().filter(|l| l.starts_with('[')).count() > 1;
            if chunk_bytes == 1 && valid && several {
                // Nothing in the fixtures needs the fallback.
                assert!(compared.tree_chunked, "{} fell back", file.display());
                if compared.whole.starts_with("Ok") {
                    assert_eq!(compared.path, TomlPath::Streamed, "{}", file.display());
                    streamed += 1;
                }
            }
        }
    }
    assert!(streamed >= 5, "only {streamed} files were streamed");
}

#[test]
fn edge_cases_parse_the_same_in_chunks() {
    // (what, text, chunk size, whether the chunked tree holds rather than falling back)
    let cases: &[(&str, &str, usize, bool)] = &[
        ("plain tables", "[a]\nx = 1\n[b]\ny = 2\n", 1, true),
        (
            "sub-table after a sibling",
            "[services.a]\nport = 1\n[services.b]\nport = 2\n[services.a.metadata]\nk = 1\n",
            1,
            true,
        ),
        (
            "table re-opened in a later chunk",
            "[services.a.metadata]\nk = 1\n[services.b]\nport = 2\n[services.a]\nport = 1\n",
            1,
            true,
        ),
        (
            "re-opened table then a sub-table of it",
            "[a.b.c]\nx = 1\n[d]\n[a.b]\ny = 2\n[a.b.e]\nz = 3\n",
            1,
            true,
        ),
        (
            "same table twice",
            "[a]\nx = 1\n[b]\n[a]\ny = 2\n",
            1,
            false,
        ),
        (
            "same table twice, quoted differently",
            "[services.\"a.b\"]\nport = 1\n[x]\n[services.'a.b']\nport = 2\n",
            1,
            false,
        ),
        (
            "quoted keys",
            "[services.\"a.b\"]\nport = 1\n[services.'a.b'.metadata]\nk = 1\n[services.a]\n[services.a.b]\n",
            1,
            true,
        ),
        (
            "array of tables across chunks",
            "[[tasks]]\nname = \"a\"\n[x]\n[[tasks]]\nname = \"b\"\n",
            1,
            true,
        ),
        (
            "sub-table of the last table of an array",
            "[[tasks]]\nname = \"a\"\n[[tasks]]\nname = \"b\"\n[tasks.run]\ncheck = \"x\"\n",
            1,
            true,
        ),
        (
            "array of tables after a table of that name",
            "[a]\n[[a]]\n",
            1,
            false,
        ),
        ("table after an array of tables", "[[a]]\n[a]\n", 1, false),
        (
            "headers inside multi-line strings",
            "a = \"\"\"\n[b]\n[[c]]\n\"\"\"\nd = '''\n[e]\n'''\n[f]\nx = 1\n",
            1,
            true,
        ),
        (
            "lines starting with brackets inside a multi-line array",
            "a = [\n[1],\n  [2, 3],\n]\n[b]\nc = [\n[\n4]]\n[d]\n",
            1,
            true,
        ),
        (
            "inline table over several lines",
            "a = {\n  b = [\n[1]],\n}\n[c]\n",
            1,
            true,
        ),
        (
            "a header-looking comment",
            "[a] # [b]\nx = 1 # [c]\n# [d]\n[e]\n",
            1,
            true,
        ),
        ("indented headers", "  [a]\nx = 1\n\t[b]\ny = 2\n", 1, true),
        (
            "CRLF line ends",
            "[a]\r\nx = 1\r\n[b]\r\ny = 2\r\n",
            1,
            true,
        ),
        (
            "byte-order mark",
            "\u{feff}version = 1\n[a]\nx = 1\n",
            1,
            true,
        ),
        ("no newline at the end", "[a]\nx = 1\n[b]", 1, true),
        (
            "dotted root key re-opened by a header",
            "a.b = 1\n[a]\nc = 2\n",
            1,
            false,
        ),
        (
            "header into a dotted-key table (valid, left to the whole parse)",
            "[a]\nb.c = 1\n[a.b.d]\nx = 2\n",
            1,
            false,
        ),
        (
            "re-opened table whose dotted key reaches a header table",
            "[a.b.c]\n[a]\nb.d = 1\n",
            1,
            false,
        ),
        (
            "then a header for that dotted table",
            "[a.b.c]\n[a]\nb.d = 1\n[a.b]\n",
            1,
            false,
        ),
        ("header into a value", "[a]\nb = 1\n[a.b]\n", 1, false),
        (
            "header into an inline table",
            "a = { b = 1 }\n[a.c]\n",
            1,
            false,
        ),
        (
            "header into a plain array",
            "a = [{ b = 1 }]\n[a.c]\n",
            1,
            false,
        ),
        (
            "table re-opened inside one chunk",
            "[x]\n# padpadpadpad\n[a.b]\n[a]\nc = 1\n# padpadpadpad\n[y]\n",
            12,
            false,
        ),
        (
            "table re-opened inside a chunk, its dotted key marking a later header's table",
            "[a.b.c]\n[a]\nb.d = 1\n# padpadpadpadpadpad\n[a.b]\n",
            30,
            false,
        ),
        (
            "syntax error in a later chunk",
            "[a]\nx = 1\n[b]\ny = \n[c]\n",
            1,
            false,
        ),
        ("unclosed array", "[a]\nx = [\n[b]\ny = 1\n", 1, false),
        ("unclosed string", "[a]\nx = \"\"\"\n[b]\n", 1, false),
        ("stray closing bracket", "[a]\nx = 1]\n[b]\n", 1, false),
        (
            "duplicate key inside a chunk",
            "[a]\nx = 1\nx = 2\n[b]\n",
            1,
            false,
        ),
    ];
    for &(what, text, chunk_bytes, holds) in cases {
        let compared = compare(text, chunk_bytes);
        assert_eq!(compared.chunked, compared.whole, "{what}");
        assert_eq!(compared.tree_chunked, holds, "{what}: chunked tree held?");
    }
}

#[test]
fn manifests_stream_their_services_and_match_the_whole_parse() {
    // (what, manifest, whether the services stream)
    let cases: &[(&str, &str, bool)] = &[
        (
            "services with sub-tables, one after another",
            "version = 1\n[services.a]\nport = 8080\n[services.a.env]\nA = \"1\"\n\
             [services.b]\nport = 8081\ndepends_on = [\"a\"]\n[services.b.metadata]\nk = 1\n",
            true,
        ),
        (
            "a sub-table of an earlier service after a later one",
            "[services.a]\nport = 8080\n[services.b]\nport = 8081\n[services.c]\n\
             [services.a.metadata]\nk = 1\n[services.d]\n",
            true,
        ),
        (
            "a service re-opened after its sub-table",
            "[services.a.env]\nA = \"1\"\n[services.b]\n[services.a]\nport = 1\n[services.c]\n",
            true,
        ),
        (
            "services between other tables",
            "[[tasks]]\nname = \"t\"\n[services.a]\n[groups.g]\nname = \"G\"\n[services.b]\n\
             group = \"g\"\n[[tasks]]\nname = \"u\"\n[services.c]\n",
            true,
        ),
        (
            "a service defined by a dotted key in `[services]`",
            "[services.a]\nport = 1\n[services]\nb.port = 2\n[services.c]\n",
            true,
        ),
        (
            "services as one inline table (nothing to stream, the tree is deserialized)",
            "services = { a = { port = 1 } }\n[groups.g]\n",
            true,
        ),
        (
            "an unknown key in a service",
            "[services.a]\nport = 1\n[services.b]\nprot = 2\n[services.c]\n",
            false,
        ),
        (
            "an unknown key elsewhere",
            "[services.a]\nport = 1\n[ecosystem]\nnmae = \"x\"\n[services.c]\n",
            false,
        ),
        (
            "a port out of range",
            "[services.a]\nport = 1\n[services.b]\nport = 70000\n",
            false,
        ),
        (
            "quoted ids",
            "[services.\"a.b\"]\nport = 1\n[services.'c d']\n",
            true,
        ),
    ];
    for &(what, text, streams) in cases {
        for chunk_bytes in [1, 30, 200] {
            let compared = compare(text, chunk_bytes);
            assert_eq!(compared.chunked, compared.whole, "{what}");
            if chunk_bytes == 1 {
                assert_eq!(compared.path == TomlPath::Streamed, streams, "{what}");
            }
        }
    }
}

/// A manifest shaped like a large real one: many services, each with sub-tables, some
/// sub-tables far from their service, tasks and groups in between.
fn large_manifest(services: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("version = 1\n\n[ecosystem]\nname = \"big\"\n\n");
    for i in 0..services {
        let _ = write!(
            out,
            "[services.svc-{i}]\ngroup = \"g-{}\"\nport = {}\ndepends_on = [{}]\n\
             connects = [{{ to = \"svc-{}\", via = \"http\" }}]\n\
             description = \"\"\"\n[services.fake-{i}]\n\"\"\"\n\n",
            i % 7,
            1024 + i,
            (0..i.min(3))
                .map(|d| format!("\"svc-{}\"", i - d - 1))
                .collect::<Vec<_>>()
                .join(", "),
            (i * 7 + 3) % services,
        );
        if i % 3 == 0 {
            let _ = writeln!(out, "[services.svc-{i}.env]\nLEVEL = \"{i}\"\n");
        }
        if i % 50 == 49 {
            // A sub-table of a service 40 services back.
            let _ = writeln!(out, "[services.svc-{}.metadata]\nlate = true\n", i - 40);
            let _ = writeln!(out, "[[tasks]]\nname = \"task-{i}\"\nevery = \"1m\"\n");
        }
    }
    for g in 0..7 {
        let _ = writeln!(out, "[groups.g-{g}]\nname = \"Group {g}\"\n");
    }
    out
}

#[test]
fn a_large_manifest_streams_in_small_chunks_to_the_same_result() {
    let text = large_manifest(600);
    // Small chunks: services continue across chunk ends and come back much later.
    for chunk_bytes in [512, 4096, 40_000] {
        let compared = compare(&text, chunk_bytes);
        assert!(
            compared.whole.starts_with("Ok"),
            "the generated manifest is valid"
        );
        assert_eq!(
            compared.path,
            TomlPath::Streamed,
            "{chunk_bytes}-byte chunks"
        );
        assert!(compared.tree_chunked);
        assert_eq!(
            compared.chunked, compared.whole,
            "{chunk_bytes}-byte chunks"
        );
    }
}

/// One generated line of a table's body: valid, invalid, or made to confuse a splitter.
fn body_line() -> impl Strategy<Value = &'static str> {
    select(vec![
        "port = 8080",
        "name = \"x\"",
        "group = \"g\"",
        "depends_on = [\"a\", \"b\"]",
        "depends_on = [\n  \"a\",\n  \"b\",\n]",
        "description = \"\"\"\n[services.x]\n[[tasks]]\n\"\"\"",
        "description = '''\n  [services.y]\n'''",
        "metadata.k = 1",
        "env = { A = \"1\" }",
        "matrix = [\n[1],\n[2, 3]]",
        "# [services.fake]",
        "name = \"x\" # [c]",
        "x.y.z = true",
        "b.c = 2",
        "a = 1",
        "tags = [\"t\"]",
        "inline = {\n  q = [\n[4]],\n}",
        "bad = ",
        "c = \"unterminated",
        "",
    ])
}

/// A generated table header: paths that nest, repeat, quote and collide.
fn header() -> impl Strategy<Value = String> {
    let path = select(vec![
        "services",
        "services.a",
        "services.b",
        "services.\"a.b\"",
        "services.'a.b'",
        "services.a.metadata",
        "services.a.env",
        "services.b.check",
        "services.a.metadata.deep",
        "tasks",
        "tasks.run",
        "agents.x",
        "agents.x.tasks",
        "groups.g",
        "a",
        "a.b",
        "a.b.c",
        "b",
        "x.y",
    ]);
    (path, 0..4u8, select(vec!["", "  ", "\t"])).prop_map(|(path, kind, indent)| {
        if kind == 0 {
            format!("{indent}[[{path}]]")
        } else {
            format!("{indent}[{path}]")
        }
    })
}

/// A generated TOML document: a root prefix and sections in any order.
fn document() -> impl Strategy<Value = String> {
    let section = (header(), prop::collection::vec(body_line(), 0..4));
    (
        prop::collection::vec(body_line(), 0..3),
        prop::collection::vec(section, 0..10),
        prop::bool::ANY,
    )
        .prop_map(|(prefix, sections, crlf)| {
            let mut out = String::new();
            for line in prefix {
                out.push_str(line);
                out.push('\n');
            }
            for (header, body) in sections {
                out.push_str(&header);
                out.push('\n');
                for line in body {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            if crlf { out.replace('\n', "\r\n") } else { out }
        })
}

/// A generated manifest that is often valid: services, their sub-tables in odd orders,
/// tasks and groups between them, quoted ids, `[services]` re-opened.
fn manifest() -> impl Strategy<Value = String> {
    let id = select(vec!["a", "b", "c", "\"d.e\"", "'f g'"]);
    let section = prop_oneof![
        (
            id.clone(),
            prop::collection::vec(
                select(vec![
                    "port = 8080",
                    "group = \"g\"",
                    "depends_on = [\n  \"a\",\n]",
                    "tags = [\"t\"]",
                    "description = \"\"\"\n[services.z]\n\"\"\"",
                    "check = { http = \"http://localhost/\" }",
                    "metadata.k = 1",
                    "env.K = \"v\"",
                ]),
                0..3
            )
        )
            .prop_map(|(id, body)| format!("[services.{id}]\n{}", lines(&body))),
        (id.clone(), select(vec!["metadata", "env"]))
            .prop_map(|(id, sub)| format!("[services.{id}.{sub}]\nk = \"1\"\n")),
        id.clone()
            .prop_map(|id| format!("[services.{id}.check]\nhttp = \"http://localhost/\"\n")),
        Just("[[tasks]]\nname = \"t\"\nevery = \"1m\"\n".to_owned()),
        Just("[groups.g]\nname = \"G\"\n".to_owned()),
        Just("[services]\nh.port = 1\n".to_owned()),
    ];
    prop::collection::vec(section, 2..10).prop_map(|sections| sections.concat())
}

fn lines(body: &[&str]) -> String {
    body.iter().map(|line| format!("{line}\n")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_documents_parse_the_same_in_chunks(
        text in document(),
        chunk_bytes in select(vec![1usize, 16, 80]),
    ) {
        let compared = compare(&text, chunk_bytes);
        prop_assert_eq!(compared.chunked, compared.whole, "{}", text);
    }

    #[test]
    fn generated_manifests_parse_the_same_in_chunks(
        text in manifest(),
        chunk_bytes in select(vec![1usize, 24, 100]),
    ) {
        let compared = compare(&text, chunk_bytes);
        prop_assert_eq!(compared.chunked, compared.whole, "{}", text);
    }
}

/// The generated documents must exercise the chunked and streamed ways, not only the
/// fallback: counts them on a fixed sample.
#[test]
fn generated_documents_mostly_take_the_chunked_ways() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut toml, mut trees, mut valid, mut streamed) = (0, 0, 0, 0);
    let samples = 300;
    for _ in 0..samples {
        let text = manifest().new_tree(&mut runner).expect("a value").current();
        let compared = compare(&text, 1);
        assert_eq!(compared.chunked, compared.whole, "{text}");
        toml += usize::from(whole_tree(&text).is_some());
        trees += usize::from(compared.tree_chunked);
        valid += usize::from(compared.whole.starts_with("Ok"));
        streamed += usize::from(compared.path == TomlPath::Streamed);
    }
    // Valid TOML falls back only where a header hides in a string (one real header).
    assert!(
        trees * 10 >= toml * 9,
        "{trees} chunked trees of {toml} valid TOML"
    );
    assert!(
        streamed * 10 >= valid * 9,
        "{streamed} streamed of {valid} valid"
    );
    assert!(
        valid * 3 >= samples,
        "only {valid} of {samples} manifests are valid"
    );
}

#[test]
fn header_keys_are_decoded() {
    let cases: &[(&str, &[&str])] = &[
        ("[services.svc-1]", &["services", "svc-1"]),
        ("[[agents.x.tasks]]", &["agents", "x"]),
        ("[ services . \"a\\u002eb\" . c ]", &["services", "a.b"]),
        ("[['x y'.z]] # [w]", &["x y", "z"]),
        ("[a]", &["a"]),
        ("[\"\"]", &[""]),
    ];
    for &(line, keys) in cases {
        let headers = super::Headers::scan(line).expect("balanced brackets");
        let decoded: Vec<String> = headers
            .0
            .first()
            .expect("a header")
            .keys(line)
            .map(|k| k.into_owned())
            .collect();
        assert_eq!(decoded, keys, "{line}");
    }
}

#[test]
fn the_scan_finds_only_top_level_header_lines() {
    let text = "a = \"\"\"\n[no]\n\"\"\"\n[yes1]\nb = [\n[1],\n]\n  [[yes2]] # [no]\n\
                c = { d = [\n[2]] }\n# [no]\n[yes3]";
    let headers = super::Headers::scan(text).expect("balanced brackets");
    let found: Vec<&str> = headers
        .0
        .iter()
        .map(|h| text.get(h.open..h.line_end).expect("in the text"))
        .collect();
    assert_eq!(found, ["[yes1]", "[[yes2]] # [no]", "[yes3]"]);
    let line_starts: Vec<usize> = headers.0.iter().map(|h| h.line_start).collect();
    let expected: Vec<usize> = ["[yes1]", "  [[yes2]]", "[yes3]"]
        .iter()
        .map(|h| text.find(&format!("\n{h}")).expect("present") + 1)
        .collect();
    assert_eq!(line_starts, expected);
    assert!(super::Headers::scan("a = 1]\n[b]").is_none());
}

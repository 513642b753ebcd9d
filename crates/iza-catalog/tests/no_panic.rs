//! Property tests: `iza_catalog::check` never panics, whatever the text, and what it returns
//! is coherent: every span (primary and related) lies within the text, rendering each
//! diagnostic works, errors mean no catalog and a catalog means no errors.
//!
//! Three kinds of input: arbitrary strings, strings made of the characters TOML and YAML
//! syntax is built from, and structured manifests (random ids, ports, ranges, references,
//! dependency cycles, tiers, schedules, checks and actions, valid or not) written both as
//! TOML and as YAML (JSON, which YAML reads), whole or cut short.

use iza_catalog::{SourceFile, Syntax};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

/// Checks `text` as `syntax` and asserts the properties above.
fn assert_coherent(text: &str, syntax: Syntax) -> Result<(), TestCaseError> {
    let name = match syntax {
        Syntax::Toml => "x.toml",
        Syntax::Yaml => "x.yaml",
    };
    let source = SourceFile::new(name, text.to_owned(), syntax);
    let checked = iza_catalog::check(&source);
    let len = text.len();
    for d in &checked.diagnostics {
        if let Some(span) = &d.span {
            prop_assert!(
                span.start <= span.end && span.end <= len,
                "span {span:?} of {d:?} is outside the text ({len} bytes)"
            );
        }
        for related in &d.related {
            prop_assert!(
                related.span.start <= related.span.end && related.span.end <= len,
                "related span {:?} of {d:?} is outside the text ({len} bytes)",
                related.span
            );
        }
        prop_assert!(!d.message.is_empty(), "empty message in {d:?}");
        prop_assert!(!d.render(&source).is_empty());
        let record = d.to_record(&source);
        prop_assert!(record.line >= 1 && record.column >= 1);
    }
    let errors = checked.errors().count();
    if errors > 0 {
        prop_assert!(checked.catalog.is_none(), "{errors} errors, yet a catalog");
    } else {
        prop_assert!(
            checked.catalog.is_some(),
            "no errors, yet no catalog: {:?}",
            checked.diagnostics
        );
    }
    if checked.syntax_error {
        prop_assert!(errors > 0, "a syntax error without an error diagnostic");
    }
    Ok(())
}

/// Text built from the characters manifests are made of, so the parsers get past the
/// first byte more often than with arbitrary strings.
fn syntax_soup() -> impl Strategy<Value = String> {
    let pieces = select(vec![
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        "=",
        ":",
        ",",
        "\"",
        "'",
        "\"\"\"",
        "\n",
        " ",
        "  ",
        "\t",
        "#",
        "-",
        "- ",
        ".",
        "&a",
        "*a",
        "<<",
        "!!str",
        "---",
        "|",
        ">",
        "?",
        "\\",
        "é",
        "\u{0}",
        "services",
        "api",
        "port",
        "3000",
        "depends_on",
        "tier",
        "1",
        "true",
        "null",
        "~",
        "1e9",
        "99999999999999999999",
        "-1",
        "0x1F",
        "1979-05-27",
        "inf",
        "nan",
    ]);
    proptest::collection::vec(pieces, 0..60).prop_map(|p| p.concat())
}

/// Ids: some used for several things, some odd but legal as quoted keys.
fn id() -> impl Strategy<Value = String> {
    select(vec![
        "api", "db", "cache", "web", "hub", "core", "data", "boss", "worker", "svc-1", "a b", "é",
        "",
    ])
    .prop_map(str::to_owned)
}

fn port() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u32..70_000).prop_map(|p| json!(p)),
        select(vec![3000u32, 3001, 8080]).prop_map(|p| json!(p)),
        Just(json!(-1)),
        select(vec![
            "4000-4010",
            "4005",
            "4010-4000",
            "x-1",
            "1-",
            "3000-9999",
            "0-65535"
        ])
        .prop_map(|s| json!(s)),
    ]
}

fn duration() -> impl Strategy<Value = Value> {
    select(vec![
        "30s",
        "1m",
        "0s",
        "5x",
        "",
        "1h 30m",
        "-1s",
        "18446744073709551616s",
    ])
    .prop_map(|s| json!(s))
}

fn cron() -> impl Strategy<Value = Value> {
    select(vec![
        "0 0 2 * * *",
        "*/5 * * * *",
        "bad",
        "",
        "61 * * * *",
        "0 0 31 2 *",
    ])
    .prop_map(|s| json!(s))
}

fn url() -> impl Strategy<Value = Value> {
    select(vec![
        "http://localhost:3000/healthz",
        "https://x",
        "ftp://x",
        "localhost:5432",
        "postgres://u@h:5432/db",
        "redis://h:6379",
        "amqp://g:g@h:5672",
        "",
        "http://",
        "h:0",
        "[::1]:80",
    ])
    .prop_map(|s| json!(s))
}

/// A map with some of `entries`' keys, each present or not.
fn some_of(entries: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let choices: Vec<BoxedStrategy<Option<(&'static str, Value)>>> = entries
        .into_iter()
        .map(|(key, value)| proptest::option::of(value.prop_map(move |v| (key, v))).boxed())
        .collect();
    choices
        .prop_map(|present| {
            Value::Object(
                present
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
        })
        .boxed()
}

fn ids(max: usize) -> BoxedStrategy<Value> {
    proptest::collection::vec(id(), 0..max)
        .prop_map(|v| json!(v))
        .boxed()
}

fn check() -> BoxedStrategy<Value> {
    some_of(vec![
        ("http", url().boxed()),
        ("tcp", url().boxed()),
        ("tls", url().boxed()),
        (
            "dns",
            select(vec!["example.com", " "])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        (
            "exec",
            prop_oneof![Just(json!([])), Just(json!(["true"])), Just(json!([" "]))].boxed(),
        ),
        ("postgres", url().boxed()),
        ("redis", url().boxed()),
        ("amqp", url().boxed()),
        ("mcp", url().boxed()),
        (
            "method",
            select(vec!["GET", "post", "FETCH"])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        ("every", duration().boxed()),
        ("timeout", duration().boxed()),
        (
            "conditions",
            select(vec![
                json!(["[STATUS] == 200"]),
                json!([" "]),
                json!(["[BODY"]),
            ])
            .boxed(),
        ),
        (
            "failure_threshold",
            (0u32..3).prop_map(|n| json!(n)).boxed(),
        ),
        (
            "success_threshold",
            (0u32..3).prop_map(|n| json!(n)).boxed(),
        ),
    ])
}

fn service() -> BoxedStrategy<Value> {
    some_of(vec![
        ("group", id().prop_map(|s| json!(s)).boxed()),
        (
            "kind",
            select(vec!["service", "hub", "database", "spaceship"])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        ("port", port().boxed()),
        (
            "ports",
            proptest::collection::vec(port(), 0..3)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        ("parent", id().prop_map(|s| json!(s)).boxed()),
        (
            "command",
            prop_oneof![
                Just(json!([])),
                Just(json!(["./run", "--port", "1"])),
                Just(json!([""]))
            ]
            .boxed(),
        ),
        ("depends_on", ids(4)),
        (
            "connects",
            proptest::collection::vec(id().prop_map(|to| json!({ "to": to, "via": "http" })), 0..3)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        ("check", check()),
        ("colour", Just(json!("blue")).boxed()),
    ])
}

fn action() -> BoxedStrategy<Value> {
    some_of(vec![
        ("check", id().prop_map(|s| json!(s)).boxed()),
        (
            "http",
            select(vec![
                "POST http://localhost:5678/x",
                "http://h",
                "FETCH http://h",
                "GET ftp://h",
                "",
            ])
            .prop_map(|s| json!(s))
            .boxed(),
        ),
        (
            "exec",
            prop_oneof![Just(json!([])), Just(json!(["echo", "hi"]))].boxed(),
        ),
        ("restart", id().prop_map(|s| json!(s)).boxed()),
    ])
}

/// A task; the `agent` key is for top-level tasks, and an error under an agent.
fn task() -> BoxedStrategy<Value> {
    let name = select(vec!["sweep", "report", "sweep", ""]).prop_map(|s| json!(s));
    let keys = vec![
        (
            "priority",
            select(vec!["high", "low", "urgent"])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        ("every", duration().boxed()),
        ("cron", cron().boxed()),
        ("run", action()),
        ("timeout", duration().boxed()),
        ("retries", (0u32..4).prop_map(|n| json!(n)).boxed()),
        ("agent", id().prop_map(|s| json!(s)).boxed()),
    ];
    (name, some_of(keys))
        .prop_map(|(name, mut task)| {
            if let Value::Object(map) = &mut task {
                map.insert("name".to_owned(), name);
            }
            task
        })
        .boxed()
}

fn agent() -> BoxedStrategy<Value> {
    let tier = prop_oneof![(0u32..5).prop_map(|t| json!(t)), Just(json!(300))];
    (
        tier,
        some_of(vec![
            ("reports_to", id().prop_map(|s| json!(s)).boxed()),
            ("services", ids(3)),
            ("groups", ids(2)),
            (
                "tasks",
                proptest::collection::vec(task(), 0..3)
                    .prop_map(|v| json!(v))
                    .boxed(),
            ),
        ]),
    )
        .prop_map(|(tier, mut agent)| {
            if let Value::Object(map) = &mut agent {
                map.insert("tier".to_owned(), tier);
            }
            agent
        })
        .boxed()
}

/// A table keyed by ids.
fn table(value: BoxedStrategy<Value>, max: usize) -> BoxedStrategy<Value> {
    proptest::collection::vec((id(), value), 0..max)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
        .boxed()
}

/// A whole manifest, as a JSON value.
fn manifest() -> BoxedStrategy<Value> {
    let group = some_of(vec![("name", Just(json!("A group")).boxed())]);
    let flow = ids(4).prop_map(|steps| json!({ "steps": steps })).boxed();
    let channel = some_of(vec![
        ("via", id().prop_map(|s| json!(s)).boxed()),
        ("services", ids(3)),
        (
            "kind",
            select(vec!["message-queue", "pigeon"])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
    ]);
    some_of(vec![
        (
            "version",
            select(vec![0u32, 1, 1, 2]).prop_map(|v| json!(v)).boxed(),
        ),
        (
            "ecosystem",
            select(vec!["3000-9999", "9999-3000", "80", "abc", ""])
                .prop_map(|r| json!({ "name": "x", "port_range": r }))
                .boxed(),
        ),
        ("groups", table(group, 3)),
        ("services", table(service(), 6)),
        ("agents", table(agent(), 3)),
        (
            "tasks",
            proptest::collection::vec(task(), 0..3)
                .prop_map(|v| json!(v))
                .boxed(),
        ),
        ("flows", table(flow, 2)),
        ("channels", table(channel, 2)),
    ])
}

/// The longest prefix of `text` of at most `cut` bytes that ends on a character boundary.
fn prefix(text: &str, cut: usize) -> &str {
    let mut end = cut.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        assert_coherent(&text, Syntax::Toml)?;
        assert_coherent(&text, Syntax::Yaml)?;
    }

    #[test]
    fn syntax_soup_never_panics(text in syntax_soup()) {
        assert_coherent(&text, Syntax::Toml)?;
        assert_coherent(&text, Syntax::Yaml)?;
    }

    #[test]
    fn structured_manifests_never_panic(manifest in manifest(), cut in any::<prop::sample::Index>()) {
        // TOML cannot write the top-level `null`s JSON can: there are none, so this holds.
        let toml_text = toml::to_string(&manifest).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let yaml_text = serde_json::to_string_pretty(&manifest).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_coherent(&toml_text, Syntax::Toml)?;
        assert_coherent(&yaml_text, Syntax::Yaml)?;
        // Cut short, as an editor's unsaved buffer may be.
        assert_coherent(prefix(&toml_text, cut.index(toml_text.len() + 1)), Syntax::Toml)?;
        assert_coherent(prefix(&yaml_text, cut.index(yaml_text.len() + 1)), Syntax::Yaml)?;
    }
}

/// The structured strategy must reach validation, not stop at parsing: over a fixed set of
/// seeds, some manifests compile and some fail validation with each kind of error.
#[test]
fn structured_manifests_reach_validation() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let strategy = manifest();
    let mut valid = 0;
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let value = strategy
            .new_tree(&mut runner)
            .expect("a manifest")
            .current();
        let text = toml::to_string(&value).expect("TOML text");
        let checked = iza_catalog::check(&SourceFile::new("x.toml", text, Syntax::Toml));
        if checked.catalog.is_some() {
            valid += 1;
        }
        codes.extend(checked.diagnostics.iter().map(|d| d.code.as_str()));
    }
    assert!(valid > 0, "no generated manifest was valid");
    for code in [
        "unknown-key",
        "invalid-value",
        "unsupported-version",
        "duplicate-id",
        "port-conflict",
        "port-out-of-range",
        "unknown-reference",
        "dependency-cycle",
        "invalid-reporting-line",
        "invalid-schedule",
        "invalid-action",
        "invalid-check",
        "unwatched-service",
    ] {
        assert!(
            codes.contains(code),
            "no generated manifest produced `{code}`; got {codes:?}"
        );
    }
}

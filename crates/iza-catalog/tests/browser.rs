//! Browser checks in the manifest: a good one compiles to its target, steps and conditions;
//! each bad value is an `invalid-check` error at its own line and column, all reported at once.

use iza_catalog::model::{CheckTarget, Step, WaitFor};
use iza_catalog::{SourceFile, Syntax};

/// An error of a manifest that does not compile: its line, column, code and message.
#[derive(Debug)]
struct Error {
    line: usize,
    column: usize,
    code: &'static str,
    message: String,
}

/// Checks `text` (which must not compile) and returns its errors with their positions, and
/// every hint given.
fn errors(text: &str) -> (Vec<Error>, Vec<String>) {
    let source = SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml);
    let checked = iza_catalog::check(&source);
    assert!(checked.catalog.is_none(), "the manifest compiled");
    let hints = checked
        .diagnostics
        .iter()
        .flat_map(|d| d.hints.clone())
        .collect();
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = source.line_column(d.span.clone().expect("a position").start);
            Error {
                line: at.line,
                column: at.column,
                code: d.code.as_str(),
                message: d.message.clone(),
            }
        })
        .collect();
    (errors, hints)
}

/// Asserts that each (line, column, words) is an error at that position whose message says
/// the words.
fn expect_errors(found: &[Error], expected: &[(usize, usize, &str)]) {
    for (line, column, words) in expected {
        assert!(
            found
                .iter()
                .any(|e| e.line == *line && e.column == *column && e.message.contains(words)),
            "no error at {line}:{column} with `{words}` in {found:#?}"
        );
    }
}

#[test]
fn a_browser_check_with_a_journey_compiles() {
    let text = r##"version = 1
[services.shop.check]
browser = "http://localhost:9000/login"
wait_for = "form#login"
steps = [
  { fill = "#user", value = "monitor" },
  { fill = "#password", value = "${SHOP_PASSWORD}" },
  { press = "Enter" },
  { wait_for = "text=Your orders" },
  { expect_text = "Total" },
  { click = "a[href='/logout']" },
  { goto = "https://localhost:9000/" },
  { screenshot = "home" },
]
conditions = ["[PAGE_ERRORS] == 0", "[LOAD_TIME] < 3s", "[TEXT] == pat(*Welcome*)", "has([TITLE]) == true", "[CLS] < 0.1"]
"##;
    let checked = iza_catalog::check(&SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    let check = catalog.services["shop"].check.as_ref().unwrap();
    let CheckTarget::Browser(browser) = &check.target else {
        panic!("{:?}", check.target);
    };
    assert_eq!(browser.url, "http://localhost:9000/login");
    assert_eq!(
        browser.wait_for,
        Some(WaitFor::Selector("form#login".into()))
    );
    assert_eq!(browser.steps.len(), 8);
    assert_eq!(
        browser.steps[1],
        Step::Fill {
            selector: "#password".into(),
            value: "${SHOP_PASSWORD}".into()
        }
    );
    assert_eq!(
        browser.steps[3],
        Step::WaitFor {
            target: WaitFor::Text("Your orders".into())
        }
    );
    assert_eq!(browser.steps[1].to_string(), "fill `#password`");
    assert_eq!(check.conditions.len(), 5);

    // The redacted view (what the API serves) masks every typed value.
    use iza_catalog::redact::Redact;
    let shown = serde_json::to_string(&check.redacted()).unwrap();
    assert!(
        !shown.contains("SHOP_PASSWORD") && !shown.contains("monitor"),
        "{shown}"
    );
}

#[test]
fn bad_browser_values_are_reported_at_their_positions() {
    let text = r##"version = 1
[services.shop.check]
browser = "ftp://localhost/"
wait_for = "div[data-x"
steps = [
  { fill = "#user" },
  { click = "a", press = "Enter" },
  { goto = "localhost:9000" },
  { press = "Enter", value = "x" },
]
conditions = ["[LOAD_TIEM] < 3000"]

[services.api.check]
http = "http://localhost:3000/"
wait_for = "#app"
conditions = ["[PAGE_ERRORS] == 0"]
"##;
    let (found, hints) = errors(text);
    assert!(
        found.iter().all(|e| e.code == "invalid-check"),
        "{found:#?}"
    );
    expect_errors(
        &found,
        &[
            (3, 11, "is not an http(s) URL"),
            (4, 12, "`[` that is not closed"),
            (6, 12, "`fill` has no `value`"),
            (7, 3, "exactly one of"),
            (8, 12, "has no scheme"),
            (9, 30, "`value` goes with `fill`"),
            (11, 15, "`[LOAD_TIEM]` is not a placeholder"),
            (
                15,
                12,
                "`wait_for` of the check of service `api` needs a browser check",
            ),
            (16, 15, "only a browser check reports"),
        ],
    );
    // The unknown placeholder suggests the right one.
    assert!(hints.iter().any(|h| h.contains("[LOAD_TIME]")), "{hints:?}");
}

#[test]
fn a_comparison_compiles_and_its_bad_values_are_reported_at_their_positions() {
    let good = r##"version = 1
[services.replica.check]
compare = { original = "http://localhost:9000/", replica = "http://localhost:9001/" }
wait_for = "main"
conditions = ["[PIXEL_DIFF] < 2", "[TEXT_SIMILARITY] >= 98", "[MISSING_LINKS] == 0", "[TITLE] == Shop"]
"##;
    let checked = iza_catalog::check(&SourceFile::new("iza.toml", good.to_owned(), Syntax::Toml));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    let check = catalog.services["replica"].check.as_ref().unwrap();
    let CheckTarget::Compare(compare) = &check.target else {
        panic!("{:?}", check.target);
    };
    assert_eq!(compare.original, "http://localhost:9000/");
    assert_eq!(compare.replica, "http://localhost:9001/");
    assert_eq!(compare.wait_for, Some(WaitFor::Selector("main".into())));
    assert_eq!(check.conditions.len(), 4);

    // A parse error (an unknown key) is reported alone, so it has its own manifest.
    // (line, column, words of the message) expected of each manifest.
    type Expected = &'static [(usize, usize, &'static str)];
    let cases: [(&str, Expected); 2] = [
        (
            r##"version = 1
[services.a.check]
compare = { original = "ftp://x/" }
steps = [{ click = "a" }]

[services.b.check]
browser = "http://localhost:9000/"
conditions = ["[PIXEL_DIFF] < 2"]
"##,
            &[
                (3, 24, "`original` of the check of service `a` is invalid"),
                (3, 11, "has no `replica`"),
                (4, 10, "go with a browser check, not a comparison"),
                (8, 15, "only a comparison reports"),
            ],
        ),
        (
            r##"version = 1
[services.c.check]
compare = { original = "http://a/", replica = "http://b/", extra = 1 }
"##,
            &[(3, 60, "unknown key `extra`")],
        ),
    ];
    for (text, expected) in cases {
        expect_errors(&errors(text).0, expected);
    }
}

#[test]
fn a_compare_task_compiles_and_its_errors_have_positions() {
    use iza_catalog::model::Action;
    let text = r##"version = 1
[services.web.check]
tcp = "localhost:9000"

[[tasks]]
name = "Verify replica"
run = { compare = { original = "http://localhost:9000/", replica = "http://localhost:9001/{task}" }, conditions = ["[PIXEL_DIFF] < 2", "[MISSING_LINKS] == 0"] }

[[tasks]]
name = "Verify replica by default"
run = { compare = { original = "http://localhost:9000/", replica = "http://localhost:9001/" } }
"##;
    let checked = iza_catalog::check(&SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml));
    let catalog = checked
        .catalog
        .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    let Some(Action::Compare(compare)) = &catalog.tasks[0].action else {
        panic!("{:?}", catalog.tasks[0].action);
    };
    assert_eq!(compare.original, "http://localhost:9000/");
    assert_eq!(compare.replica, "http://localhost:9001/{task}");
    assert_eq!(compare.conditions.len(), 2);
    assert_eq!(catalog.tasks[0].action.as_ref().unwrap().kind(), "compare");
    let Some(Action::Compare(defaults)) = &catalog.tasks[1].action else {
        panic!("{:?}", catalog.tasks[1].action);
    };
    assert!(defaults.conditions.is_empty());

    let text = r##"version = 1
[[tasks]]
name = "a"
run = { compare = { original = "ftp://x/" }, conditions = ["[PIXEL_DIFF] <"] }

[[tasks]]
name = "b"
run = { compare = { original = "http://a/", replica = "http://b/" }, conditions = ["[TOOL_COUNT] > 1"], env = { A = "1" } }

[[tasks]]
name = "c"
run = { compare = { original = "http://a/", replica = "http://b/" }, http = "http://c/" }
"##;
    let expected: &[(usize, usize, &str)] = &[
        (4, 32, "`original` of `compare` of task `a` is invalid"),
        (4, 19, "`compare` of task `a` has no `replica`"),
        (4, 60, "a condition of `compare` of task `a` is invalid"),
        (8, 84, "only `mcp` checks report"),
        (
            8,
            111,
            "`env` in `run` of task `b` belongs to an `exec` action",
        ),
        (12, 19, "`compare` is a second action"),
    ];
    expect_errors(&errors(text).0, expected);
}

//! `[services.X.mcp]`: the MCP servers the hub federates. A valid table becomes the service's
//! `mcp` (defaults filled in, credentials kept out of the serialized catalog); a table with
//! both or neither of `url` and `command`, a URL that is not http(s), an empty command or a bad
//! duration is an error pointing at it.

use std::time::Duration;

use iza_catalog::{SourceFile, Syntax};

fn check(text: &str) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml))
}

#[test]
fn mcp_tables_become_upstreams_without_their_secrets_in_the_catalog() {
    let checked = check(
        r#"version = 1
[services.gh]
kind = "mcp-server"
mcp = { url = "http://127.0.0.1:8304/mcp", headers = { Authorization = "Bearer ${GH_TOKEN}" }, deny = ["delete_*"], rate_limits = { "create_*" = "10/m", search = "5/s" } }
[services.local]
mcp = { command = ["npx", "server"], env = { KEY = "s3cret" }, timeout = "5s" }
"#,
    );
    let errors: Vec<_> = checked.errors().map(|d| d.message.clone()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let catalog = checked.catalog.unwrap();
    let gh = catalog.services["gh"].mcp.as_ref().unwrap();
    assert_eq!(gh.url.as_deref(), Some("http://127.0.0.1:8304/mcp"));
    assert_eq!(gh.timeout, Duration::from_secs(30));
    assert_eq!(gh.health_interval, Duration::from_secs(5));
    assert_eq!(gh.deny, ["delete_*"]);
    assert_eq!(gh.headers["Authorization"], "Bearer ${GH_TOKEN}");
    let limits: Vec<_> = gh
        .rate_limits
        .iter()
        .map(|l| (l.tool.as_str(), l.count, l.per))
        .collect();
    assert_eq!(
        limits,
        [
            ("create_*", 10, Duration::from_secs(60)),
            ("search", 5, Duration::from_secs(1))
        ]
    );
    let local = catalog.services["local"].mcp.as_ref().unwrap();
    assert_eq!(
        local.command.as_deref(),
        Some(&["npx".to_owned(), "server".to_owned()][..])
    );
    assert_eq!(local.timeout, Duration::from_secs(5));
    let json = serde_json::to_string(&catalog.services["local"]).unwrap();
    assert!(!json.contains("s3cret"), "{json}");
    let json = serde_json::to_string(&catalog.services["gh"]).unwrap();
    assert!(!json.contains("GH_TOKEN"), "{json}");
}

#[test]
fn bad_mcp_tables_are_errors_with_their_position() {
    let cases = [
        (
            "mcp = { url = \"http://a/mcp\", command = [\"x\"] }",
            "exactly one of `url` and `command`",
        ),
        (
            "mcp = { allow = [\"x\"] }",
            "exactly one of `url` and `command`",
        ),
        (
            "mcp = { url = \"ftp://a/mcp\" }",
            "not an http or https URL",
        ),
        ("mcp = { command = [] }", "is empty"),
        (
            "mcp = { url = \"http://a/mcp\", timeout = \"soon\" }",
            "is not a duration",
        ),
        (
            "mcp = { url = \"http://a/mcp\", rate_limits = { add = \"10/day\" } }",
            "the MCP rate limit of `add` of service `s` is not a rate: `day` is not a unit",
        ),
        (
            "mcp = { url = \"http://a/mcp\", rate_limits = { add = \"ten\" } }",
            "has no `/`",
        ),
    ];
    for (line, expected) in cases {
        let text = format!("version = 1\n[services.s]\n{line}\n");
        let checked = check(&text);
        let errors: Vec<_> = checked.errors().collect();
        assert!(
            errors.iter().any(|d| d.message.contains(expected)),
            "{line}: {:?}",
            errors.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
        assert!(checked.catalog.is_none(), "{line}");
    }
}

#[test]
fn a_bad_rate_limit_points_at_its_table() {
    let text = "version = 1\n[services.s]\nmcp = { url = \"http://a/mcp\", rate_limits = { add = \"0/m\" } }\n";
    let checked = check(text);
    let error = checked
        .errors()
        .find(|d| d.message.contains("rate limit"))
        .expect("an error about the rate limit");
    let span = error.span.clone().expect("a position");
    assert!(text[span].starts_with("{ add"), "{error:?}");
}

//! `[store]`: a URL with `${NAME}` references reaches the catalog as written, is resolved only
//! with the environment the caller passes, shows no written password when redacted, and a
//! malformed reference is an error at its line.

use iza_catalog::redact::Redact as _;
use iza_catalog::{SourceFile, Syntax};

fn check(text: &str) -> iza_catalog::Checked {
    iza_catalog::check(&SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml))
}

const SERVICE: &str = "\n[services.api]\nport = 8080\n";

#[test]
fn a_reference_reaches_the_catalog_as_written() {
    let checked = check(&format!(
        "version = 1\n[store]\nurl = \"${{IZA_DATABASE_URL}}\"\n{SERVICE}"
    ));
    let catalog = checked.catalog.expect("valid");
    let store = catalog.store.clone().expect("[store] kept");
    assert_eq!(store.url, "${IZA_DATABASE_URL}");
    let url = store
        .resolve(|name| (name == "IZA_DATABASE_URL").then(|| "postgres://db/iza".to_owned()))
        .unwrap();
    assert_eq!(url, "postgres://db/iza");
    assert!(
        !checked
            .diagnostics
            .iter()
            .any(|d| d.code.as_str().starts_with("store") || d.code.as_str().contains("store")),
        "{:?}",
        checked.diagnostics
    );
}

#[test]
fn a_written_password_is_redacted_from_the_catalog() {
    let checked = check(&format!(
        "version = 1\n[store]\nurl = \"postgres://iza:hunter22@db/iza\"\n{SERVICE}"
    ));
    let catalog = checked.catalog.expect("a warning only");
    let shown = serde_json::to_string(&catalog.redacted().store).unwrap();
    assert!(!shown.contains("hunter22"), "{shown}");
    assert!(shown.contains("iza:***@db"), "{shown}");
}

#[test]
fn malformed_references_and_a_missing_url_are_errors_with_positions() {
    for (text, line) in [
        ("version = 1\n[store]\nurl = \"postgres://${PASS@db\"\n", 3),
        ("version = 1\n\n[store]\nurl = \"${9}\"\n", 4),
        ("version = 1\n[store]\n", 2),
    ] {
        let source = SourceFile::new("iza.toml", text.to_owned(), Syntax::Toml);
        let checked = iza_catalog::check(&source);
        let error = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == "invalid-store-url")
            .unwrap_or_else(|| panic!("{text}: {:?}", checked.diagnostics));
        assert!(error.is_error());
        assert_eq!(error.to_record(&source).line, line, "{text}");
        assert!(checked.catalog.is_none());
    }
}

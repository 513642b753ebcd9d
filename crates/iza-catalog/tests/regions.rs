//! A check's `regions` and `quorum`: read into the catalog (a majority by default), rejected
//! with positions when the list is empty, blank or repeats a region, or the quorum is outside
//! 1 to the number of regions or comes without regions; a warning when the manifest keeps the
//! embedded SQLite store (one node: the check is probed once).

use iza_catalog::{SourceFile, Syntax};

fn check(text: &str, syntax: Syntax) -> (SourceFile, iza_catalog::Checked) {
    let name = match syntax {
        Syntax::Yaml => "iza.yaml",
        _ => "iza.toml",
    };
    let source = SourceFile::new(name, text.to_owned(), syntax);
    let checked = iza_catalog::check(&source);
    (source, checked)
}

const SHARED: &str = "version = 1\n[store]\nurl = \"${IZA_DATABASE_URL}\"\n";

#[test]
fn regions_and_quorum_reach_the_catalog_with_a_majority_by_default() {
    let text = format!(
        "{SHARED}[services.web]\ncheck = {{ tcp = \"127.0.0.1:80\", regions = [\"eu\", \"us\", \"ap\"] }}\n\
         [services.api]\ncheck = {{ tcp = \"127.0.0.1:81\", regions = [\"eu\", \"us\"], quorum = 1 }}\n\
         [services.db]\ncheck = {{ tcp = \"127.0.0.1:82\" }}\n"
    );
    let (_, checked) = check(&text, Syntax::Toml);
    assert!(
        !checked
            .diagnostics
            .iter()
            .any(|d| d.is_error() || d.code.as_str() == "regions-without-shared-store"),
        "a shared store: no error, no regions warning {:?}",
        checked.diagnostics
    );
    let catalog = checked.catalog.expect("valid");
    let web = catalog.services["web"].check.as_ref().unwrap();
    assert_eq!(web.regions, ["eu", "us", "ap"]);
    assert_eq!(web.quorum, 2, "a majority of three");
    let api = catalog.services["api"].check.as_ref().unwrap();
    assert_eq!((api.regions.len(), api.quorum), (2, 1));
    let db = catalog.services["db"].check.as_ref().unwrap();
    assert!(db.regions.is_empty());
    assert_eq!(db.quorum, 0);
}

#[test]
fn bad_regions_and_quorums_are_errors_at_their_place() {
    let cases = [
        // (the check's keys, the text pointed at (its last occurrence), what the message says)
        ("regions = []", "[]", "is empty"),
        (
            "regions = [\"eu\", \"us\", \"eu\"]",
            "\"eu\"",
            "listed twice",
        ),
        (
            "regions = [\"eu\", \" \"]",
            "\" \"",
            "blank or holds spaces",
        ),
        (
            "regions = [\"eu\", \"us\"], quorum = 3",
            "3",
            "outside 1 to 2",
        ),
        ("regions = [\"eu\"], quorum = 0", "0", "outside 1 to 1"),
        ("quorum = 2", "2", "without `regions`"),
    ];
    for (keys, pointed, says) in cases {
        let text =
            format!("{SHARED}\n[services.web]\ncheck = {{ tcp = \"127.0.0.1:80\", {keys} }}\n");
        let (source, checked) = check(&text, Syntax::Toml);
        let error = checked
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .unwrap_or_else(|| panic!("{keys}: no error in {:?}", checked.diagnostics));
        let record = error.to_record(&source);
        assert_eq!(record.code.as_str(), "invalid-check", "{keys}");
        assert!(record.message.contains(says), "{keys}: {}", record.message);
        let line = text.lines().count();
        let column = text.lines().last().unwrap().rfind(pointed).unwrap() + 1;
        assert_eq!((record.line, record.column), (line, column), "{keys}");
        assert!(checked.catalog.is_none(), "{keys}");
    }
}

#[test]
fn yaml_regions_are_judged_the_same() {
    let text = "version: 1\nstore:\n  url: \"${IZA_DATABASE_URL}\"\nservices:\n  web:\n    check:\n      tcp: 127.0.0.1:80\n      regions: [eu, us, eu]\n";
    let (source, checked) = check(text, Syntax::Yaml);
    let error = checked
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("a repeat is an error");
    let record = error.to_record(&source);
    assert!(
        record.message.contains("listed twice"),
        "{}",
        record.message
    );
    assert_eq!(record.line, 8);
}

#[test]
fn regions_on_the_embedded_store_are_a_warning() {
    for store in ["", "[store]\nurl = \"sqlite:.iza/iza.db\"\n"] {
        let text = format!(
            "version = 1\n{store}[services.web]\ncheck = {{ tcp = \"127.0.0.1:80\", regions = [\"eu\", \"us\"] }}\n"
        );
        let (source, checked) = check(&text, Syntax::Toml);
        let warning = checked
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == "regions-without-shared-store")
            .unwrap_or_else(|| panic!("{store:?}: {:?}", checked.diagnostics));
        assert!(!warning.is_error());
        let record = warning.to_record(&source);
        assert!(
            record.message.contains("service `web`"),
            "{}",
            record.message
        );
        assert_eq!(record.line, text.lines().count());
        let catalog = checked.catalog.expect("a warning only");
        assert_eq!(catalog.services["web"].check.as_ref().unwrap().quorum, 2);
    }
}

//! Every file in `fixtures/bad/` has one kind of defect, named by its file name (the
//! diagnostic code). Each must report that code, point inside the file, and render as its
//! snapshot shows.

use std::path::Path;

use iza_catalog::{SourceFile, Syntax};

fn fixtures() -> Vec<(String, SourceFile)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/bad exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let source = SourceFile::new(
                format!("fixtures/bad/{name}"),
                text,
                Syntax::for_path(&path),
            );
            (name, source)
        })
        .collect()
}

#[test]
fn each_bad_fixture_reports_its_code_within_the_file() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 15, "fixtures/bad should cover every code");
    for (name, source) in fixtures {
        let expected = name.split('.').next().unwrap();
        let checked = iza_catalog::check(&source);
        let codes: Vec<&str> = checked
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert!(
            codes.contains(&expected),
            "{name}: expected `{expected}`, got {codes:?}"
        );
        for d in &checked.diagnostics {
            let span = d
                .span
                .clone()
                .unwrap_or_else(|| panic!("{name}: `{}` has no position", d.message));
            assert!(
                span.end <= source.text.len(),
                "{name}: span {span:?} past the end"
            );
        }
        let is_warning = checked
            .diagnostics
            .iter()
            .any(|d| d.code.as_str() == expected && !d.is_error());
        assert_eq!(
            checked.catalog.is_some(),
            is_warning,
            "{name}: a catalog is built exactly when the defect is only a warning"
        );
        assert_eq!(checked.syntax_error, expected == "syntax-error", "{name}");
    }
}

#[test]
fn bad_fixtures_render_as_snapshotted() {
    for (name, source) in fixtures() {
        let checked = iza_catalog::check(&source);
        let rendered: String = checked
            .diagnostics
            .iter()
            .map(|d| d.render(&source))
            .collect();
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn every_code_is_covered_by_a_fixture_or_is_not_about_content() {
    let names: Vec<String> = fixtures().into_iter().map(|(n, _)| n).collect();
    for code in iza_catalog::Code::ALL {
        if *code == iza_catalog::Code::ReadError {
            continue; // about the file system, tested through the CLI
        }
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{}.", code.as_str()))),
            "no fixture for `{code}`"
        );
    }
}

/// Rendering text diagnostics was quadratic: each one re-scanned the whole file for its line
/// starts (10,000 warnings took 3.6 s in a release build, 30,000 took 29.8 s, two minutes in
/// a debug build). 20,000 now render in well under a second; on the old code this took about
/// a minute in a debug build, far past the generous deadline below.
#[test]
fn rendering_many_diagnostics_takes_time_linear_in_their_number() {
    use std::fmt::Write as _;
    const SERVICES: usize = 20_000;
    let mut text = String::from("version = 1\n[ecosystem]\nname = \"many\"\n");
    for i in 0..SERVICES {
        let _ = writeln!(text, "[services.svc-{i}]\ndescription = \"service {i}\"");
    }
    let source = SourceFile::new("many.toml", text, Syntax::Toml);
    let diagnostics = iza_catalog::check(&source).diagnostics;
    assert_eq!(diagnostics.len(), SERVICES, "one `unwatched-service` each");
    let started = std::time::Instant::now();
    let rendered: String = diagnostics.iter().map(|d| d.render(&source)).collect();
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(20),
        "rendering {SERVICES} diagnostics took {took:?}"
    );
    // Every snippet still points at its own line.
    let last = format!("{}:{}:11", source.name(), 2 * SERVICES + 2);
    assert!(rendered.contains(&last), "no snippet at `{last}`");
    assert_eq!(
        rendered.matches("warning[unwatched-service]").count(),
        SERVICES
    );
}

/// serde-saphyr's own message for a duplicate key told the user to "set DuplicateKeyPolicy in
/// Options", an option of the library; the diagnostic is ours, at the second key.
#[test]
fn a_duplicate_yaml_key_is_our_diagnostic_with_its_position_and_a_hint() {
    let text = "version: 1\necosystem:\n  name: dup\nservices:\n  api: {}\n  api: {}\n";
    let source = SourceFile::new("dup.yaml", text.to_owned(), Syntax::Yaml);
    let checked = iza_catalog::check(&source);
    assert!(checked.syntax_error);
    let [d] = checked.diagnostics.as_slice() else {
        panic!("one diagnostic: {:?}", checked.diagnostics);
    };
    assert_eq!(d.code, iza_catalog::Code::SyntaxError);
    assert_eq!(d.message, "duplicate key `api`");
    let record = d.to_record(&source);
    assert_eq!(
        (record.file.as_str(), record.line, record.column),
        ("dup.yaml", 6, 3)
    );
    assert_eq!(
        d.hints,
        ["a key may appear only once in a mapping; remove one of the two, or merge them"]
    );
    let rendered = d.render(&source);
    assert!(!rendered.contains("DuplicateKeyPolicy"), "{rendered}");
    assert!(rendered.contains("dup.yaml:6:3"), "{rendered}");
}

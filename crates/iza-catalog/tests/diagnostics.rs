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

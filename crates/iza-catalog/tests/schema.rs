//! `iza schema` must agree with the parser: every example and fixture the parser accepts
//! validates against the schema, and the fixtures the parser rejects for their shape
//! (unknown keys, mistyped values) are rejected by the schema too.

use std::path::{Path, PathBuf};

use iza_catalog::{SourceFile, Syntax};

fn manifests() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    let mut dirs = vec![root.join("examples"), root.join("fixtures")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("toml" | "yaml" | "yml")
            ) && !path.to_string_lossy().contains("fixtures/compose")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn as_json(source: &SourceFile) -> Option<serde_json::Value> {
    match source.syntax {
        Syntax::Toml => toml::from_str(&source.text).ok(),
        Syntax::Yaml => serde_saphyr::from_str(&source.text).ok(),
    }
}

#[test]
fn schema_accepts_exactly_what_the_parser_accepts() {
    let schema = iza_catalog::schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let files = manifests();
    assert!(files.len() > 10, "examples and fixtures are found");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let source = SourceFile::new(&path, text, Syntax::for_path(&path));
        let shape_error = match iza_catalog::parse_raw(&source) {
            Ok(_) => false,
            Err(failure) if failure.syntax => continue,
            Err(_) => true,
        };
        let Some(json) = as_json(&source) else {
            continue;
        };
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        if shape_error {
            assert!(
                !errors.is_empty(),
                "{}: the parser rejects its shape but the schema accepts it",
                path.display()
            );
        } else {
            assert!(
                errors.is_empty(),
                "{}: schema errors {errors:?}",
                path.display()
            );
        }
    }
}

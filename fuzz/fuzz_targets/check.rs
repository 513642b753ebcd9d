//! Fuzz target: any bytes, read as a TOML and as a YAML manifest, go through
//! `iza_catalog::check` without a panic, and what comes back is coherent (spans within the
//! text, diagnostics render, errors if and only if there is no catalog).
//!
//! Manifests are UTF-8 (`iza_catalog::load` refuses anything else), so the bytes are read
//! lossily: every input still reaches the parsers.

#![no_main]

use iza_catalog::{SourceFile, Syntax};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    for (name, syntax) in [("fuzz.toml", Syntax::Toml), ("fuzz.yaml", Syntax::Yaml)] {
        let source = SourceFile::new(name, text.clone(), syntax);
        let checked = iza_catalog::check(&source);
        for d in &checked.diagnostics {
            let spans = d.span.iter().chain(d.related.iter().map(|r| &r.span));
            for span in spans {
                assert!(
                    span.start <= span.end && span.end <= text.len(),
                    "span {span:?} outside the text ({} bytes): {d:?}",
                    text.len()
                );
            }
            let _ = d.render(&source);
            let _ = d.to_record(&source);
        }
        assert_eq!(
            checked.errors().next().is_none(),
            checked.catalog.is_some(),
            "a catalog must come with no error, and only then: {:?}",
            checked.diagnostics
        );
    }
});

//! Chains and cycles of 200,000 `depends_on` links, checked and walked on a thread with the
//! 2 MiB stack Rust gives spawned threads (tokio's workers too): every graph walk must be
//! iterative or bounded. A recursive walk (petgraph's `tarjan_scc` was one) overflows that
//! stack and aborts the whole process long before 200,000 levels.

use std::fmt::Write as _;

use iza_catalog::export::graph::{GraphFormat, render};
use iza_catalog::export::ports::PortMap;
use iza_catalog::graph::EcosystemGraph;
use iza_catalog::{Code, SourceFile, Syntax};

const LENGTH: usize = 200_000;
/// What `std::thread::spawn` gives a thread unless `RUST_MIN_STACK` says otherwise.
const THREAD_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with the default stack of a spawned thread.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the walk finished without panicking");
}

/// `LENGTH` services `s0`..; each depends on the one `next` names, if any. One agent watches
/// the one group, so the manifest has no warnings to wade through.
fn manifest(next: impl Fn(usize) -> Option<usize>) -> SourceFile {
    linked("depends_on = [\"s{}\"]", next)
}

/// `LENGTH` services `s0`..; each links to the one `next` names, if any, with `link` (its
/// `{}` stands for the other service's number).
fn linked(link: &str, next: impl Fn(usize) -> Option<usize>) -> SourceFile {
    let mut text = String::from(
        "version = 1\n[ecosystem]\nname = \"deep\"\n[groups.all]\n\
         [agents.watcher]\ntier = 1\ngroups = [\"all\"]\n",
    );
    for i in 0..LENGTH {
        let _ = writeln!(text, "[services.s{i}]\ngroup = \"all\"");
        if let Some(j) = next(i) {
            text.push_str(&link.replace("{}", &j.to_string()));
            text.push('\n');
        }
    }
    SourceFile::new("deep.toml", text, Syntax::Toml)
}

#[test]
fn a_chain_of_200_000_dependencies_is_checked_ordered_and_rendered() {
    on_small_stack(|| {
        // `s0` needs `s1`, which needs `s2`, ...: a walk from `s0` goes 200,000 deep.
        let source = manifest(|i| (i + 1 < LENGTH).then_some(i + 1));
        let checked = iza_catalog::check(&source);
        assert!(
            checked.diagnostics.is_empty(),
            "{:?}",
            checked.diagnostics.first()
        );
        let catalog = checked.catalog.expect("a chain is valid");

        let graph = EcosystemGraph::build(&catalog);
        let layers = graph.start_order().expect("no cycle");
        assert_eq!(layers.len(), LENGTH);
        assert_eq!(layers[0], [format!("s{}", LENGTH - 1)]);
        assert_eq!(
            graph.dependents_of(&format!("s{}", LENGTH - 1)).len(),
            LENGTH - 1
        );
        assert_eq!(graph.dependencies_of("s0").len(), LENGTH - 1);

        for format in [GraphFormat::Dot, GraphFormat::Mermaid, GraphFormat::Json] {
            let text = render(&catalog, format);
            assert!(text.contains(&format!("s{}", LENGTH - 1)), "{format:?}");
        }
        let report = iza_catalog::export::report::render(&catalog);
        assert!(report.contains("s199999"));
        let raw = iza_catalog::parse_raw(&source).expect("parses");
        assert!(PortMap::from_manifest(&raw).conflicts.is_empty());
    });
}

#[test]
fn a_cycle_of_200_000_services_is_refused_with_a_short_diagnostic() {
    on_small_stack(|| {
        // `s0` needs `s1`, ..., `s199999` needs `s0`.
        let source = manifest(|i| Some((i + 1) % LENGTH));
        let checked = iza_catalog::check(&source);
        assert!(checked.catalog.is_none(), "a cycle is refused");
        let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::DependencyCycle]);
        let cycle = &checked.diagnostics[0];
        assert_eq!(
            cycle.message,
            "dependency cycle: `s0` -> `s1` -> `s2` -> `s3` -> `s4` -> `s5` -> `s6` -> `s7` \
             -> ... (199992 more) -> `s0`"
        );
        let rendered = cycle.render(&source);
        assert!(
            rendered.len() < 4_000,
            "{} bytes:\n{rendered}",
            rendered.len()
        );
        assert!(rendered.contains("deep.toml:10:"), "{rendered}");
    });
}

#[test]
fn a_chain_of_200_000_parents_is_checked_and_reported_in_bounded_depth() {
    on_small_stack(|| {
        // `s0`'s hub is `s1`, whose hub is `s2`, ...
        let source = linked("parent = \"s{}\"", |i| (i + 1 < LENGTH).then_some(i + 1));
        let checked = iza_catalog::check(&source);
        assert!(
            checked.diagnostics.is_empty(),
            "{:?}",
            checked.diagnostics.first()
        );
        let catalog = checked.catalog.expect("a chain of hubs is valid");
        let report = iza_catalog::export::report::render(&catalog);
        assert!(report.contains("s0"));
        // Nesting is bounded, so the report grows linearly (no line indented 200,000 deep).
        let widest = report.lines().map(str::len).max().unwrap_or(0);
        assert!(widest < 200, "a line of {widest} bytes");
        assert!(report.len() < 200 * LENGTH, "{} bytes", report.len());
        for format in [GraphFormat::Dot, GraphFormat::Mermaid, GraphFormat::Json] {
            assert!(render(&catalog, format).contains("s199999"), "{format:?}");
        }
    });
}

//! Everything the seed names (services, ports, Docker references, MCP servers, agents and
//! tasks) appears in `iza report examples/iza-os`: the curated example loses nothing.
//! The import side of the same promise is tested in `import_markdown.rs`.

mod common {
    pub mod seed_facts;
}

use std::collections::BTreeSet;
use std::path::Path;

use common::seed_facts::seed_facts;

fn read(relative: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(relative),
    )
    .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn report_of_example() -> String {
    let source =
        iza_catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/iza-os"))
            .expect("the example loads");
    let checked = iza_catalog::check(&source);
    let catalog = checked.catalog.expect("the example is valid");
    iza_catalog::export::report::render(&catalog)
}

fn lower(set: &BTreeSet<String>) -> BTreeSet<String> {
    set.iter().map(|s| s.to_lowercase()).collect()
}

/// The duties listed after an agent's name: `- **X Agent**: a, b, c`.
fn agent_duties(md: &str) -> BTreeSet<String> {
    let mut duties = BTreeSet::new();
    for line in md.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("- **") else {
            continue;
        };
        let Some((name, after)) = rest.split_once("**: ") else {
            continue;
        };
        if name.ends_with("Agent") || name.ends_with("Manager") {
            duties.extend(after.split(", ").map(|d| d.trim().to_lowercase()));
        }
    }
    duties
}

#[test]
fn the_report_of_the_example_names_everything_the_seed_names() {
    let seed_text = read("fixtures/markdown/seed.md");
    let seed = seed_facts(&seed_text);
    let report = report_of_example();
    let shown = seed_facts(&report);
    let lowered_report = report.to_lowercase();

    let categories = [
        ("services", &seed.service_names, &shown.service_names),
        ("Docker references", &seed.docker_refs, &shown.docker_refs),
        ("agents", &seed.agent_names, &shown.agent_names),
        ("prioritised tasks", &seed.task_names, &shown.task_names),
    ];
    for (what, in_seed, in_report) in categories {
        assert!(!in_seed.is_empty(), "the seed names {what}");
        let missing: Vec<_> = lower(in_seed)
            .difference(&lower(in_report))
            .cloned()
            .collect();
        assert!(
            missing.is_empty(),
            "{what} of the seed missing from the report: {missing:?}"
        );
    }
    for server in &seed.mcp_servers {
        assert!(
            report.contains(&format!("**{server}**")),
            "MCP server `{server}` missing"
        );
    }
    // Ports the curation moved stay visible (Nginx's production ports 80 and 443).
    let word = regex::Regex::new(r"\d+(?:-\d+)?").unwrap();
    let report_ports: BTreeSet<&str> = word.find_iter(&report).map(|m| m.as_str()).collect();
    for port in &seed.ports {
        assert!(
            report_ports.contains(port.as_str()),
            "port {port} missing from the report"
        );
    }
    let duties = agent_duties(&seed_text);
    assert!(
        duties.len() > 50,
        "the seed lists agent duties ({})",
        duties.len()
    );
    for duty in duties {
        assert!(
            lowered_report.contains(&duty),
            "agent duty `{duty}` missing from the report"
        );
    }
}

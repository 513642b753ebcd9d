//! Extracts the facts a seed-style Markdown document names (services, ports, Docker
//! references, MCP servers, agents, prioritised tasks) with plain regular expressions, on
//! purpose independently of the importer, so that an import (or a regenerated report) can be
//! compared with the document it came from.
//!
//! Use it from another test with `mod common;` (this folder) or
//! `#[path = ".../tests/common/seed_facts.rs"] mod seed_facts;`.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;

use regex::Regex;

/// What a document names, as sets of strings as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedFacts {
    /// Services: `### **Name** - `localhost:PORT`` headings (bold or not); nested `**Name** (`PORT`)` items
    /// (a hub's children); the products of an infrastructure line
    /// `- **Label** (`ports`): A, B, C` (the first word of each item), and the label itself
    /// when its ports hold a range (it owns the range for the products).
    pub service_names: BTreeSet<String>,
    /// Every port or range written after `localhost:` or in `(`...`)`, as text (`80`, `8300-8399`).
    pub ports: BTreeSet<String>,
    /// `**Docker**: `ref`` values.
    pub docker_refs: BTreeSet<String>,
    /// Nested `**Name** (`PORT`)` items whose name says MCP.
    pub mcp_servers: BTreeSet<String>,
    /// Bold names of items under an `**Agent Tasks**:` bullet, under a heading that speaks of
    /// agents or tiers, and any bold item name ending in `Agent` or `Agents`.
    pub agent_names: BTreeSet<String>,
    /// Bold names of items under a heading that speaks of priority (`High-Priority Tasks`).
    pub task_names: BTreeSet<String>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad pattern {pattern}: {e}"))
}

/// Reads the facts of `md` (LF or CRLF line endings).
pub fn seed_facts(md: &str) -> SeedFacts {
    let heading = regex(r"^\s{0,3}(#{1,6})\s+(.*)$");
    // On the heading's text; the name may be bold (the seed) or not (`iza report`).
    let heading_service = regex(r"^(?:\*\*)?([^*`]+?)(?:\*\*)?\s*-\s*`[\w.-]+:(\d+(?:-\d+)?)`");
    let ported_item = regex(r"^(\s*)[-*+]\s+\*\*([^*]+)\*\*\s*\(`([^`]+)`\)(?::\s*(.*))?$");
    let docker = regex(r"\*\*Docker\*\*:\s*`([^`]+)`");
    let bold_item = regex(r"^(\s*)(?:[-*+]|\d+[.)])\s+\*\*([^*]+?)\*\*");
    let agent_tasks_bullet = regex(r"^[-*+]\s+\*\*Agent Tasks\*\*:");
    let agentish = regex(r"\bAgents?$");

    let mut facts = SeedFacts::default();
    // Headings that speak of agents or tiers, and of priorities.
    let mut agent_heading = false;
    let mut task_heading = false;
    // Inside the nested list of an `**Agent Tasks**:` bullet.
    let mut agent_bullet = false;

    for line in md.lines() {
        if let Some(h) = heading.captures(line) {
            let text = h[2].to_lowercase();
            agent_heading = h[1].len() >= 3 && (text.contains("agent") || text.contains("tier"));
            task_heading = text.contains("priority");
            agent_bullet = false;
            if let Some(s) = heading_service.captures(&h[2]) {
                facts.service_names.insert(s[1].trim().to_owned());
                facts.ports.insert(s[2].to_owned());
                agent_heading = false;
            }
            continue;
        }
        if let Some(d) = docker.captures(line) {
            facts.docker_refs.insert(d[1].trim().to_owned());
        }
        if let Some(item) = ported_item.captures(line) {
            let nested = !item[1].is_empty();
            let label = item[2].trim().to_owned();
            let ports: Vec<String> = item[3]
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            if nested {
                if label.contains("MCP") {
                    facts.mcp_servers.insert(label.clone());
                }
                facts.service_names.insert(label);
            } else {
                let products = item.get(4).map_or("", |m| m.as_str());
                for product in products.split(',') {
                    if let Some(first) = product.split_whitespace().next() {
                        facts.service_names.insert(first.to_owned());
                    }
                }
                if ports.iter().any(|p| p.contains('-')) {
                    facts.service_names.insert(label);
                }
            }
            facts.ports.extend(ports);
        }
        if agent_tasks_bullet.is_match(line) {
            agent_bullet = true;
            continue;
        }
        if let Some(item) = bold_item.captures(line) {
            let nested = !item[1].is_empty();
            let name = item[2].trim().trim_end_matches(':').trim().to_owned();
            if !nested {
                agent_bullet = false;
            }
            if task_heading {
                facts.task_names.insert(name);
            } else if agent_heading || (agent_bullet && nested) || agentish.is_match(&name) {
                facts.agent_names.insert(name);
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_small_document() {
        let md = "## Core\n### **App** - `localhost:3000`\n- **Docker**: `app:3000`\n- **Agent Tasks**:\n  - **Keeper**: keep\n- **Hub Things**:\n  - **X MCP** (`8301`): x\n### Plain - `localhost:3001`\n### **Infra**\n- **DB** (`5432-5439`): PostgreSQL, Redis cache\n### **High-Priority Tasks**\n1. **Ship**: it\n";
        let facts = super::seed_facts(md);
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            facts.service_names,
            set(&["App", "X MCP", "Plain", "DB", "PostgreSQL", "Redis"])
        );
        assert_eq!(facts.ports, set(&["3000", "3001", "8301", "5432-5439"]));
        assert_eq!(facts.docker_refs, set(&["app:3000"]));
        assert_eq!(facts.mcp_servers, set(&["X MCP"]));
        assert_eq!(facts.agent_names, set(&["Keeper"]));
        assert_eq!(facts.task_names, set(&["Ship"]));
    }
}

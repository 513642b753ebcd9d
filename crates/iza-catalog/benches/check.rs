//! Benchmarks `iza_catalog::check` (what `iza check` runs) on generated manifests of 1,000,
//! 10,000 and 100,000 services with three edges per service, and breaks it down into
//! parsing (`parse_raw`) and validation (`validate::compile`).
//!
//! The generator below mirrors `bench/gen-manifest.py` (same ids, layout and proportions,
//! its own random numbers), so the bench needs neither Python nor a file:
//! `cargo bench -p iza-catalog --bench check`, or `-- check/toml/10000` for one case.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iza_catalog::{SourceFile, Syntax};

/// Services per group, as in the script.
const GROUP_SIZE: usize = 1000;
/// The first services get a port each, `1024 + index` (ports are u16: not all 100,000 can).
const PORTED: usize = 60_000;
const PORT_BASE: usize = 1024;

/// SplitMix64: small, deterministic, good enough to pick edge targets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// `k` distinct numbers in `0..n` (Floyd's algorithm; `k <= n`).
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut chosen = HashSet::with_capacity(k);
        let mut picks = Vec::with_capacity(k);
        for j in n - k..n {
            let t = self.below(j + 1);
            let pick = if chosen.insert(t) { t } else { j };
            chosen.insert(pick);
            picks.push(pick);
        }
        picks
    }
}

/// Spreads `total` edges over `count` sources as evenly as `cap(i)` allows, carrying what
/// an early source cannot take to the next ones.
fn quotas(total: usize, count: usize, cap: impl Fn(usize) -> usize) -> Vec<usize> {
    let mut carry = 0;
    (0..count)
        .map(|i| {
            let share = (i + 1) * total / count - i * total / count + carry;
            let take = share.min(cap(i));
            carry = share - take;
            take
        })
        .collect()
}

/// A valid TOML manifest of `services` services and `edges` edges (two thirds
/// `depends_on`, always to a lower index, one third `connects`), one tier-2 agent per
/// group under one tier-1 orchestrator, three tasks per group agent.
fn manifest(services: usize, edges: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let depends = quotas(edges * 2 / 3, services, |i| i);
    let connects = quotas(edges - edges * 2 / 3, services, |_| services - 1);
    let groups = services.div_ceil(GROUP_SIZE);
    let mut out = String::with_capacity(services * 170);
    out.push_str("version = 1\n\n[ecosystem]\nname = \"bench\"\nport_range = \"1024-65535\"\n\n");
    for g in 0..groups {
        let _ = writeln!(out, "[groups.g-{g}]\nname = \"Group {g}\"\n");
    }
    for i in 0..services {
        let _ = writeln!(out, "[services.svc-{i}]\ngroup = \"g-{}\"", i / GROUP_SIZE);
        if i < PORTED.min(services) {
            let port = PORT_BASE + i;
            let _ = writeln!(
                out,
                "port = {port}\ncheck = {{ http = \"http://localhost:{port}/healthz\" }}"
            );
        }
        if depends[i] > 0 {
            let mut targets = rng.sample(i, depends[i]);
            targets.sort_unstable_by(|a, b| b.cmp(a));
            let list: Vec<String> = targets.iter().map(|t| format!("\"svc-{t}\"")).collect();
            let _ = writeln!(out, "depends_on = [{}]", list.join(", "));
        }
        if connects[i] > 0 {
            let list: Vec<String> = rng
                .sample(services - 1, connects[i])
                .into_iter()
                .map(|p| if p >= i { p + 1 } else { p })
                .map(|t| format!("{{ to = \"svc-{t}\", via = \"http\" }}"))
                .collect();
            let _ = writeln!(out, "connects = [{}]", list.join(", "));
        }
        out.push('\n');
    }
    out.push_str("[agents.orchestrator]\ntier = 1\nrole = \"Runs the ecosystem\"\n\n");
    out.push_str(
        "[[agents.orchestrator.tasks]]\nname = \"daily audit\"\ncron = \"0 0 3 * * *\"\n\n",
    );
    for g in 0..groups {
        let first = g * GROUP_SIZE;
        let _ = write!(
            out,
            "[agents.agent-{g}]\ntier = 2\nreports_to = \"orchestrator\"\ngroups = [\"g-{g}\"]\n\n\
             [[agents.agent-{g}.tasks]]\nname = \"health sweep\"\npriority = \"high\"\nevery = \"1m\"\n\
             run = {{ check = \"svc-{first}\" }}\n\n\
             [[agents.agent-{g}.tasks]]\nname = \"nightly report\"\ncron = \"0 0 2 * * *\"\n\n\
             [[agents.agent-{g}.tasks]]\nname = \"notify\"\npriority = \"low\"\nevery = \"1h\"\n\
             timeout = \"30s\"\nrun = {{ http = \"POST http://localhost:5678/webhook/report\" }}\n\n"
        );
    }
    out
}

fn bench_check(c: &mut Criterion) {
    for services in [1_000, 10_000, 100_000] {
        let text = manifest(services, services * 3, 1);
        let source = SourceFile::new("bench.toml", text, Syntax::Toml);
        // The generator must produce what it promises, or the figures measure error paths.
        let checked = iza_catalog::check(&source);
        assert!(
            checked.diagnostics.is_empty(),
            "generated manifest has diagnostics: {:?}",
            checked.diagnostics.first()
        );
        let raw = iza_catalog::parse_raw(&source).expect("generated manifest parses");

        let mut group = c.benchmark_group("check/toml");
        group.throughput(Throughput::Bytes(source.text.len() as u64));
        if services >= 100_000 {
            group
                .sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(15));
        } else if services >= 10_000 {
            group.sample_size(20);
        }
        // The whole pipeline, as `iza check` runs it (dropping the result included).
        group.bench_with_input(BenchmarkId::new("check", services), &source, |b, s| {
            b.iter(|| iza_catalog::check(s))
        });
        // Its two stages; results are dropped outside the timing.
        group.bench_with_input(BenchmarkId::new("parse", services), &source, |b, s| {
            b.iter_batched(
                || (),
                |()| iza_catalog::parse_raw(s),
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(BenchmarkId::new("compile", services), &raw, |b, raw| {
            b.iter_batched(
                || (),
                |()| iza_catalog::validate::compile(raw),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench_check);
criterion_main!(benches);

//! Benchmarks rendering diagnostics as text (what `iza check` prints to a terminal) for
//! 1,000, 10,000 and 100,000 diagnostics: a manifest of that many services that no agent
//! watches gives one `unwatched-service` warning each, every one with a source snippet.
//! Rendering must stay linear in the number of diagnostics (docs/performance.md):
//! `cargo bench -p iza-catalog --bench diagnostics`.

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use iza_catalog::{Diagnostic, SourceFile, Syntax};

/// `services` services on their own ports, none watched: one warning per service.
fn manifest(services: usize) -> String {
    let mut out = String::with_capacity(services * 40);
    out.push_str("version = 1\n\n[ecosystem]\nname = \"bench\"\n\n");
    for i in 0..services {
        let _ = writeln!(out, "[services.svc-{i}]\ndescription = \"service {i}\"\n");
    }
    out
}

fn render_all(diagnostics: &[Diagnostic], source: &SourceFile) -> usize {
    diagnostics.iter().map(|d| d.render(source).len()).sum()
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("diagnostics/text");
    for count in [1_000, 10_000, 100_000] {
        let source = SourceFile::new("bench.toml", manifest(count), Syntax::Toml);
        let diagnostics = iza_catalog::check(&source).diagnostics;
        assert_eq!(diagnostics.len(), count, "one warning per service");
        group.throughput(Throughput::Elements(count as u64));
        if count >= 100_000 {
            group
                .sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(10));
        } else if count >= 10_000 {
            group.sample_size(20);
        }
        group.bench_with_input(
            BenchmarkId::new("render", count),
            &diagnostics,
            |b, diagnostics| b.iter(|| render_all(diagnostics, &source)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_render);
criterion_main!(benches);

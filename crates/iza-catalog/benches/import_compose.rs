//! Benchmarks `iza import compose` (`iza_catalog::import::compose`): the corpus project with
//! aliases at a large self-hosted stack's density (`fixtures/compose/corpus/aliases`, its
//! `.env` read), and a generated file of 400 services sharing `x-` blocks through anchors
//! and merge keys, interpolated, with ports, dependencies and health checks. The target is
//! under 25 ms per import (docs/performance.md):
//! `cargo bench -p iza-catalog --bench import_compose`.

use std::fmt::Write as _;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use iza_catalog::import::compose::{Options, import, import_files};

/// A compose file of `services` services in the shape of large published stacks.
fn generated(services: usize) -> String {
    let mut text = String::from(
        "x-restart: &restart\n  restart: unless-stopped\nx-env: &env\n  TZ: ${TZ:-UTC}\n  LOG_LEVEL: info\nx-check: &check\n  interval: 10s\n  timeout: 5s\n  retries: ${RETRIES:-5}\nservices:\n  db:\n    <<: *restart\n    image: postgres:16\n    healthcheck:\n      <<: *check\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n",
    );
    for i in 0..services {
        let _ = write!(
            text,
            "  svc-{i}:\n    <<: *restart\n    image: \"example/svc-{i}:${{TAG:-1.0}}\"\n    environment:\n      <<: *env\n      NAME: svc-{i}\n    ports: [\"{}:8080\"]\n    depends_on:\n      db: {{condition: service_healthy}}\n    healthcheck:\n      <<: *check\n      test: [\"CMD\", \"wget\", \"-q\", \"http://localhost:8080/health\"]\n    command: |\n      serve\n      --port 8080\n",
            10_000 + i
        );
    }
    text
}

fn bench(c: &mut Criterion) {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compose/corpus/aliases/docker-compose.yml");
    c.bench_function("import_compose/corpus-aliases", |b| {
        b.iter(|| import_files(std::slice::from_ref(&corpus), &Options::default()))
    });
    let text = generated(400);
    c.bench_function("import_compose/generated-400", |b| b.iter(|| import(&text)));
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! `iza report` shows live facts (dependency-aware status, uptime) when a state database
//! exists beside the manifest.

use std::process::Command;

use iza_store::{ResultRecord, SqliteStore, Store};

#[test]
fn the_report_reads_statuses_and_uptime_from_the_state_database() {
    let dir = std::env::temp_dir().join(format!("iza-report-live-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".iza")).unwrap();
    std::fs::write(
        dir.join("iza.toml"),
        r#"
[services.db]
name = "Database"
check = { tcp = "127.0.0.1:1" }

[services.api]
name = "API"
depends_on = ["db"]
check = { tcp = "127.0.0.1:2" }

[agents.ops]
tier = 2
services = ["db", "api"]
"#,
    )
    .unwrap();
    let without = Command::new(env!("CARGO_BIN_EXE_iza"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&without.stdout).contains("Services Up"),
        "no database, no live facts"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let record = |service: &str, at: i64, up: bool| ResultRecord {
        service: service.to_owned(),
        at,
        up,
        latency_ms: 1.0,
        message: None,
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(dir.join(".iza/state.db")).await.unwrap();
        let results = [
            record("db", now - 3_000, true),
            record("db", now - 2_000, false),
            record("api", now - 3_000, true),
            record("api", now - 1_000, false),
        ];
        store.append_results(&results).await.unwrap();
        store.close().await.unwrap();
    });

    let out = Command::new(env!("CARGO_BIN_EXE_iza"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("| Services Down | — | 1 of 2 |"),
        "{report}"
    );
    assert!(
        report.contains("| Services Impacted | — | 1 of 2 |"),
        "{report}"
    );
    assert!(
        report.contains("impacted (**Database** is down)"),
        "{report}"
    );
    assert!(report.contains("50.00% uptime"), "{report}");
}

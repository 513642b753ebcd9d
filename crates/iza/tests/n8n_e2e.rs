//! The opt-in test against a real n8n 2.41.1: runs `scripts/n8n-e2e.sh` (which imports two
//! webhook workflows, runs them, and checks that `iza` reports the failing one with n8n's error
//! message and node, and that `iza workflows retry` creates an execution of mode `retry`).
//!
//! n8n is large (about 1 GB with Node 24), so the test runs only when the script's install is
//! cached (`installed-2.41.1` in `$N8N_E2E_DIR`, default `${XDG_CACHE_HOME:-~/.cache}/iza/n8n-e2e`:
//! `scripts/n8n-e2e.sh --install` makes it), or when `N8N_E2E=1` asks for it (then the script
//! installs first). Otherwise it says why it skipped and passes.

use std::path::PathBuf;
use std::process::Command;

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("N8N_E2E_DIR") {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("iza").join("n8n-e2e"))
}

#[test]
fn iza_follows_and_retries_a_real_n8n() {
    let forced = std::env::var("N8N_E2E").is_ok_and(|v| v == "1");
    let stamp = cache_dir().map(|d| d.join("installed-2.41.1"));
    if !forced && !stamp.as_ref().is_some_and(|s| s.exists()) {
        eprintln!(
            "skipped: n8n 2.41.1 is not installed in {} (run `scripts/n8n-e2e.sh --install` once, \
             about 1 GB, or set N8N_E2E=1 to install and run)",
            stamp.map_or_else(
                || "the cache folder (no HOME)".to_owned(),
                |s| s
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        );
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/n8n-e2e.sh");
    let output = Command::new("bash")
        .arg(&script)
        .env("IZA", env!("CARGO_BIN_EXE_iza"))
        .output()
        .expect("cannot run scripts/n8n-e2e.sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "scripts/n8n-e2e.sh failed ({}):\n{}\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(stderr.contains("n8n-e2e: passed"), "{stderr}");
}

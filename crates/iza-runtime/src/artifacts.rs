//! Defines [`Artifacts`]: what failed browser checks saw, kept as files so that a person can
//! look at it later: for each failed run of a service, a `run.json` (when, why, the console's
//! last lines, the journey's steps) and the screenshots it took (PNG), under
//! `DIR/SERVICE/RUN/`, where RUN is the probe's end in Unix milliseconds. Only the last
//! [`Artifacts::keep`] runs of each service are kept; older ones are removed when a new one
//! is written.
//!
//! It owns the directory and nothing else: the monitor hands it failed results, the server
//! lists and reads through it. Names that reach the file system are checked here, so no path
//! from a request can leave the directory.

use std::io;
use std::path::{Path, PathBuf};

use iza_probe::{Comparison, ProbeResult, StepReport};
use iza_store::Millis;
use serde::{Deserialize, Serialize};

/// Runs kept per service by default.
pub const DEFAULT_KEEP: usize = 10;

/// One kept run of a failed browser check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRun {
    /// Its id: when the probe finished, Unix milliseconds, as text.
    pub id: String,
    /// When the probe finished.
    pub at: Millis,
    /// Why the check failed.
    pub message: Option<String>,
    /// The page's title.
    pub title: Option<String>,
    /// The console's last lines, oldest first.
    pub console: Vec<String>,
    /// The journey's steps as they ran.
    pub steps: Vec<StepReport>,
    /// The screenshots' file names (`failure.png`, ...), read with [`Artifacts::file`]; a
    /// failed comparison's are `original.png`, `replica.png` and `diff.png`.
    pub screenshots: Vec<String>,
    /// What a comparison (`compare` check) found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// The directory of kept runs; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: PathBuf,
    keep: usize,
}

impl Artifacts {
    /// Keeps the last `keep` (at least 1) failed runs of each service under `dir`.
    pub fn new(dir: impl Into<PathBuf>, keep: usize) -> Artifacts {
        Artifacts {
            dir: dir.into(),
            keep: keep.max(1),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many runs of a service are kept.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Writes what a failed browser probe saw, then removes the service's runs past
    /// [`Artifacts::keep`]. A result without browser facts writes nothing (`Ok(false)`).
    /// Blocking: call it off the async threads.
    pub fn record(&self, service: &str, at: Millis, result: &ProbeResult) -> io::Result<bool> {
        let Some(browser) = result.facts.browser.as_deref() else {
            return Ok(false);
        };
        let service_dir = self.service_dir(service)?;
        let id = at.to_string();
        let run_dir = service_dir.join(&id);
        std::fs::create_dir_all(&run_dir)?;
        let mut screenshots = Vec::with_capacity(browser.screenshots.len());
        for shot in &browser.screenshots {
            let mut name = file_stem(&shot.name);
            while screenshots.contains(&format!("{name}.png")) {
                name.push('_');
            }
            let file = format!("{name}.png");
            std::fs::write(run_dir.join(&file), &shot.png)?;
            screenshots.push(file);
        }
        let run = ArtifactRun {
            id,
            at,
            message: result.failure.as_ref().map(|f| f.message.clone()),
            title: browser.title.clone(),
            console: browser.console.clone(),
            steps: browser.steps.clone(),
            screenshots,
            comparison: browser.comparison.clone(),
        };
        let json = serde_json::to_vec_pretty(&run).map_err(io::Error::other)?;
        // Written last and renamed into place: a run without `run.json` is not listed.
        let partial = run_dir.join("run.json.partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, run_dir.join("run.json"))?;
        self.prune(&service_dir)?;
        Ok(true)
    }

    /// The kept runs of a service, newest first (none when it has none). Blocking.
    pub fn list(&self, service: &str) -> io::Result<Vec<ArtifactRun>> {
        let service_dir = self.service_dir(service)?;
        let mut runs = Vec::new();
        for id in run_ids(&service_dir)?.into_iter().rev() {
            let Ok(text) = std::fs::read(service_dir.join(id.to_string()).join("run.json")) else {
                continue;
            };
            if let Ok(run) = serde_json::from_slice::<ArtifactRun>(&text) {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// A file of a kept run (a screenshot), or `None` when there is no such file or a name
    /// is not one this module writes. Blocking.
    pub fn file(&self, service: &str, run: &str, name: &str) -> io::Result<Option<Vec<u8>>> {
        let valid_run = !run.is_empty() && run.bytes().all(|b| b.is_ascii_digit());
        let valid_name = name
            .strip_suffix(".png")
            .is_some_and(|stem| !stem.is_empty() && stem.bytes().all(safe_byte));
        if !valid_run || !valid_name {
            return Ok(None);
        }
        let path = self.service_dir(service)?.join(run).join(name);
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn service_dir(&self, service: &str) -> io::Result<PathBuf> {
        if service.is_empty() || service.starts_with('.') || !service.bytes().all(safe_byte) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{service}` cannot name a directory"),
            ));
        }
        Ok(self.dir.join(service))
    }

    fn prune(&self, service_dir: &Path) -> io::Result<()> {
        let ids = run_ids(service_dir)?;
        let excess = ids.len().saturating_sub(self.keep);
        for id in &ids[..excess] {
            std::fs::remove_dir_all(service_dir.join(id.to_string()))?;
        }
        Ok(())
    }
}

/// The run ids in a service's directory, oldest first.
fn run_ids(service_dir: &Path) -> io::Result<Vec<u64>> {
    let entries = match std::fs::read_dir(service_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<u64> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// A screenshot's name as a file name: letters, digits, `-` and `_` kept, the rest `-`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if stem.is_empty() {
        "screenshot".to_owned()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use iza_probe::{BrowserFacts, Facts, Failure, Outcome, Reason, Screenshot};

    use super::*;

    fn failed(shots: &[&str]) -> ProbeResult {
        ProbeResult {
            outcome: Outcome::Down,
            duration: Duration::from_millis(30),
            facts: Facts {
                browser: Some(Box::new(BrowserFacts {
                    title: Some("Broken".into()),
                    console: vec!["uncaught: ReferenceError: x is not defined".into()],
                    screenshots: shots
                        .iter()
                        .map(|n| Screenshot {
                            name: (*n).into(),
                            png: b"\x89PNG fake".to_vec(),
                        })
                        .collect(),
                    ..BrowserFacts::default()
                })),
                ..Facts::default()
            },
            failure: Some(Failure::new(Reason::Condition, "[PAGE_ERRORS] (1) == 0")),
        }
    }

    #[test]
    fn runs_are_kept_newest_first_up_to_the_limit_and_names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = Artifacts::new(dir.path(), 3);
        for at in 1..=5 {
            assert!(
                artifacts
                    .record("web", at, &failed(&["failure", "../x y"]))
                    .unwrap()
            );
        }
        let runs = artifacts.list("web").unwrap();
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["5", "4", "3"]);
        assert_eq!(runs[0].screenshots, ["failure.png", "---x-y.png"]);
        assert_eq!(runs[0].message.as_deref(), Some("[PAGE_ERRORS] (1) == 0"));
        assert!(
            !dir.path().join("web/1").exists(),
            "the oldest were removed"
        );
        assert_eq!(
            artifacts
                .file("web", "5", "failure.png")
                .unwrap()
                .as_deref(),
            Some(&b"\x89PNG fake"[..])
        );
        for (run, name) in [
            ("5", "../../etc/passwd"),
            ("..", "failure.png"),
            ("5", "run.json"),
        ] {
            assert_eq!(
                artifacts.file("web", run, name).unwrap(),
                None,
                "{run} {name}"
            );
        }
        assert!(artifacts.list("../etc").is_err());
        assert!(artifacts.list("other").unwrap().is_empty());
        // A result without browser facts writes nothing.
        let plain = ProbeResult {
            facts: Facts::default(),
            ..failed(&[])
        };
        assert!(!artifacts.record("web", 6, &plain).unwrap());
    }
}

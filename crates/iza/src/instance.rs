//! Finds the running server of a manifest. `iza serve` writes `.iza/server.json` beside the
//! manifest once it listens (its URL and process id) and removes it when it stops; commands
//! that talk to the running instance (`iza status`) read it. A file left behind by a server
//! that was killed is recognised by its process being gone and is ignored.
//!
//! This module owns the file, not the HTTP conversation (`client.rs`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// What a running server announces about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Instance {
    /// Base URL of its HTTP API, e.g. `http://127.0.0.1:3000`.
    pub(crate) url: String,
    /// Its process id.
    pub(crate) pid: u32,
}

/// The announcement file of a manifest: `.iza/server.json` beside it.
pub(crate) fn file_of(manifest: &Path) -> PathBuf {
    crate::manifest_input::state_dir(manifest).join("server.json")
}

/// Writes the announcement (atomically: a reader sees the old file or the new, never half of
/// one) and returns a guard that removes it when dropped.
pub(crate) fn announce(manifest: &Path, instance: &Instance) -> Result<Announcement> {
    let path = file_of(manifest);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory `{}`", dir.display()))?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    serde_json::to_writer(&mut temp, instance)?;
    temp.write_all(b"\n")?;
    temp.persist(&path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(Announcement {
        path,
        pid: instance.pid,
    })
}

/// The server that runs for this manifest, if one announced itself and its process lives.
pub(crate) fn find(manifest: &Path) -> Option<Instance> {
    let text = std::fs::read_to_string(file_of(manifest)).ok()?;
    let instance: Instance = serde_json::from_str(&text).ok()?;
    alive(instance.pid).then_some(instance)
}

/// Whether a process with this id exists (signal 0 asks without sending anything).
fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // It exists but belongs to someone else.
        Err(err) => err == rustix::io::Errno::PERM,
    }
}

/// Removes the announcement when the server stops.
#[derive(Debug)]
pub(crate) struct Announcement {
    path: PathBuf,
    pid: u32,
}

impl Drop for Announcement {
    fn drop(&mut self) {
        // Only our own: a second server started later on the same manifest owns the file now.
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str::<Instance>(&text).ok())
            .is_some_and(|instance| instance.pid == self.pid);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announced_live_server_is_found_and_forgotten_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("iza.toml");
        let me = Instance {
            url: "http://127.0.0.1:3999".into(),
            pid: std::process::id(),
        };
        let announcement = announce(&manifest, &me).unwrap();
        assert_eq!(find(&manifest), Some(me));
        drop(announcement);
        assert_eq!(find(&manifest), None);
        assert!(!file_of(&manifest).exists());
    }

    #[test]
    fn a_file_left_by_a_dead_server_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("iza.toml");
        // A child that has exited and been reaped: its pid names no process.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = Instance {
            url: "http://127.0.0.1:3999".into(),
            pid,
        };
        std::fs::create_dir_all(file_of(&manifest).parent().unwrap()).unwrap();
        std::fs::write(file_of(&manifest), serde_json::to_string(&dead).unwrap()).unwrap();
        assert_eq!(find(&manifest), None);
    }

    #[test]
    fn a_garbled_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("iza.toml");
        std::fs::create_dir_all(file_of(&manifest).parent().unwrap()).unwrap();
        std::fs::write(file_of(&manifest), "{\"url\": ").unwrap();
        assert_eq!(find(&manifest), None);
    }
}

//! The leftovers of a run that died without stopping its children.
//!
//! [`Records`] keeps, in one file per running IZA (`DIR/PID`, DIR being `.iza/children/`
//! under `iza up`), the owner's start time and, for each long-lived child, its process group
//! (= its pid) and its start time (`/proc/PID/stat`). The file is rewritten on every change
//! and removed when the owner stops.
//!
//! [`sweep`], at start-up, reads every file whose owner is gone (no process with that pid and
//! start time: a live IZA on the same directory keeps its children) and sends `SIGKILL` to
//! each recorded group whose leader still runs *with the recorded start time*, so a process
//! that reused the pid is never touched. A descendant that left the group, or whose group
//! leader has already died, is not found this way.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};

use crate::stat::start_time;

/// The first line of a record file.
const HEADER: &str = "iza-children 1";
/// How long [`sweep`] waits for the groups it killed to be gone.
const SWEEP_WAIT: Duration = Duration::from_secs(2);

/// One recorded child.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pgid: u32,
    start: u64,
    label: String,
}

/// The record file of this process; see the module documentation. Removed when dropped.
#[derive(Debug)]
pub struct Records {
    path: PathBuf,
    owner: (u32, u64),
    entries: Mutex<Vec<Entry>>,
}

impl Records {
    /// Starts the record file of this process in `dir` (created if needed), empty.
    pub fn create(dir: &Path) -> io::Result<Records> {
        std::fs::create_dir_all(dir)?;
        let pid = std::process::id();
        let start = start_time(pid)
            .ok_or_else(|| io::Error::other("cannot read this process's start time in /proc"))?;
        let records = Records {
            path: dir.join(pid.to_string()),
            owner: (pid, start),
            entries: Mutex::new(Vec::new()),
        };
        records.write(&[])?;
        Ok(records)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the child `pid` (the leader of its own process group) under `label`; the
    /// records of children that are gone are dropped on the way.
    pub fn add(&self, pid: u32, label: &str) -> io::Result<()> {
        let start = start_time(pid).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is gone"))
        })?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.pgid != pid && start_time(e.pgid) == Some(e.start));
        entries.push(Entry {
            pgid: pid,
            start,
            label: label.replace(['\n', '\r'], " "),
        });
        self.write(&entries)
    }

    /// Drops the record of `pid`.
    pub fn remove(&self, pid: u32) -> io::Result<()> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|e| e.pgid != pid);
        if entries.len() == before {
            return Ok(());
        }
        self.write(&entries)
    }

    fn write(&self, entries: &[Entry]) -> io::Result<()> {
        let mut text = format!("{HEADER}\nowner {} {}\n", self.owner.0, self.owner.1);
        for e in entries {
            text.push_str(&format!("child {} {} {}\n", e.pgid, e.start, e.label));
        }
        // Written beside, then renamed: a reader sees the old file or the new one.
        let temp = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        drop(file);
        std::fs::rename(&temp, &self.path)
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A group [`sweep`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    /// The process group (its leader's pid).
    pub pgid: u32,
    /// What the dead run recorded it as (a service id).
    pub label: String,
}

/// Stops the recorded children of every dead owner in `dir` and removes its file; waits up to
/// two seconds for the groups to be gone (their ports free). Returns the groups it killed. A
/// missing directory is an empty one.
pub fn sweep(dir: &Path) -> io::Result<Vec<Swept>> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut swept = Vec::new();
    let mut killed = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some((owner, entries)) = parse(&text) else {
            continue;
        };
        if start_time(owner.0) == Some(owner.1) {
            // Its owner runs: its children are not leftovers.
            continue;
        }
        for entry in entries {
            if start_time(entry.pgid) != Some(entry.start) {
                continue;
            }
            let Some(group) = i32::try_from(entry.pgid).ok().and_then(Pid::from_raw) else {
                continue;
            };
            if kill_process_group(group, Signal::KILL).is_ok() {
                killed.push((entry.pgid, entry.start));
                swept.push(Swept {
                    pgid: entry.pgid,
                    label: entry.label,
                });
            }
        }
        std::fs::remove_file(&path)?;
    }
    let deadline = Instant::now() + SWEEP_WAIT;
    while killed
        .iter()
        .any(|(pid, start)| start_time(*pid) == Some(*start))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(swept)
}

/// (owner (pid, start), children) of a record file; `None` when it is not one.
fn parse(text: &str) -> Option<((u32, u64), Vec<Entry>)> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut owner_line = lines.next()?.splitn(3, ' ');
    if owner_line.next()? != "owner" {
        return None;
    }
    let owner = (
        owner_line.next()?.parse().ok()?,
        owner_line.next()?.parse().ok()?,
    );
    let entries = lines
        .filter_map(|line| {
            let mut parts = line.splitn(4, ' ');
            (parts.next()? == "child").then_some(())?;
            Some(Entry {
                pgid: parts.next()?.parse().ok()?,
                start: parts.next()?.parse().ok()?,
                label: parts.next().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    Some((owner, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;

    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap()
    }

    fn write_leftover(dir: &Path, owner: (u32, u64), children: &[(u32, u64, &str)]) {
        let mut text = format!("{HEADER}\nowner {} {}\n", owner.0, owner.1);
        for (pgid, start, label) in children {
            text.push_str(&format!("child {pgid} {start} {label}\n"));
        }
        std::fs::write(dir.join(owner.0.to_string()), text).unwrap();
    }

    /// An owner that is gone: a child that exited and was reaped.
    fn dead_owner() -> (u32, u64) {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        (pid, 1)
    }

    #[test]
    fn a_dead_owners_group_is_killed_and_a_reused_pid_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut ours = sleeper();
        let mut stranger = sleeper();
        let ours_start = start_time(ours.id()).unwrap();
        let stranger_start = start_time(stranger.id()).unwrap();
        write_leftover(
            dir.path(),
            dead_owner(),
            &[
                (ours.id(), ours_start, "api"),
                // Same pid, another start time: a process that reused the pid.
                (stranger.id(), stranger_start + 1, "web"),
            ],
        );
        let swept = sweep(dir.path()).unwrap();
        assert_eq!(
            swept,
            [Swept {
                pgid: ours.id(),
                label: "api".into()
            }]
        );
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(ours.wait().unwrap().signal(), Some(9));
        assert_eq!(
            stranger.try_wait().unwrap(),
            None,
            "a reused pid was killed"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        stranger.kill().unwrap();
        stranger.wait().unwrap();
    }

    #[test]
    fn a_live_owners_children_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper();
        let me = std::process::id();
        write_leftover(
            dir.path(),
            (me, start_time(me).unwrap()),
            &[(child.id(), start_time(child.id()).unwrap(), "api")],
        );
        assert_eq!(sweep(dir.path()).unwrap(), []);
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn records_follow_adds_and_removes_and_go_with_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = sleeper();
        let records = Records::create(dir.path()).unwrap();
        records.add(child.id(), "api").unwrap();
        let (owner, entries) = parse(&std::fs::read_to_string(records.path()).unwrap()).unwrap();
        assert_eq!(owner.0, std::process::id());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].label, "api");
        records.remove(child.id()).unwrap();
        let (_, entries) = parse(&std::fs::read_to_string(records.path()).unwrap()).unwrap();
        assert!(entries.is_empty());
        let path = records.path().to_owned();
        drop(records);
        assert!(!path.exists());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_missing_directory_sweeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sweep(&dir.path().join("nope")).unwrap(), []);
    }
}

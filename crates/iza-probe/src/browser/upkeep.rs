//! Keeping the shared Chromium healthy: how much memory its process group holds (the sum over
//! every process of the group, the browser, its renderers and helpers, of its proportional
//! set size from `/proc/<pid>/smaps_rollup`, or of its resident set size where that cannot be
//! read), so that it can be restarted between checks once it grows past
//! [`super::BrowserOptions::max_memory`]. Proportional, not plain resident sizes: Chromium's
//! processes share most of their pages (the program, its libraries), and the plain sum counts
//! them once per process: an idle headless Chromium sums to about 900 MB of RSS here for
//! about 240 MB of memory actually held; and sweeping the profile directories
//! (`iza-chromium-<pid>-<n>` in the temporary directory) left by an `iza` that was killed
//! with `SIGKILL` and so could not remove its own, only those whose owning process is gone.

use std::path::Path;

/// The prefix of a profile directory's name; the owning `iza`'s pid and a counter follow.
pub(crate) const PROFILE_PREFIX: &str = "iza-chromium-";

/// The memory, in bytes, the processes of process group `pgid` hold: the sum of their
/// proportional set sizes (resident sizes where those cannot be read); none when `/proc`
/// cannot be read (not Linux).
pub(crate) fn group_memory(pgid: u32) -> Option<u64> {
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process may end between the listing and the reading: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if stat_pgrp(&stat) != Some(pgid) {
            continue;
        }
        let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|rollup| kib_field(&rollup, "Pss:"));
        let held = pss.or_else(|| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| kib_field(&status, "VmRSS:"))
        });
        total += held.unwrap_or(0);
    }
    Some(total)
}

/// The process group of a `/proc/<pid>/stat` line: the third field after the command,
/// which is in parentheses and may itself hold spaces and parentheses.
fn stat_pgrp(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// A `Name:   1234 kB` field of a `/proc` file (`VmRSS:` of `status`, `Pss:` of
/// `smaps_rollup`), in bytes; none when it is absent (a kernel thread, a zombie).
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Whether a process with this pid exists (a zombie counts: its pid is still taken).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the profile directories in `dir` whose owning process is gone; how many.
pub(crate) fn sweep_profiles(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PROFILE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || alive(owner) {
            continue;
        }
        let path = entry.path();
        // Only directories, and never through a symbolic link.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            tracing::info!(
                "removed `{}`, the browser profile of an iza that is gone",
                path.display()
            );
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_of_this_process_group_is_counted() {
        let own = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        let held = group_memory(own).expect("/proc is readable");
        assert!(held > 1024 * 1024, "{held}");
        assert_eq!(group_memory(u32::MAX), Some(0), "no such group");
    }

    #[test]
    fn stat_lines_with_odd_commands_are_parsed() {
        assert_eq!(stat_pgrp("42 (a b) c) S 1 4242 4242 0"), Some(4242));
        assert_eq!(
            kib_field("Name:\tx\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
        assert_eq!(
            kib_field("Rss: 10 kB\nPss:   7 kB\n", "Pss:"),
            Some(7 * 1024)
        );
        assert_eq!(kib_field("Name:\tkthreadd\n", "VmRSS:"), None);
    }

    #[test]
    fn only_the_profiles_of_processes_that_are_gone_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has ended: its pid is free (until reused, which would only keep the
        // directory).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = dir.path().join(format!("{PROFILE_PREFIX}{dead}-0"));
        let gone_too = dir.path().join(format!("{PROFILE_PREFIX}{dead}-3"));
        let ours = dir
            .path()
            .join(format!("{PROFILE_PREFIX}{}-0", std::process::id()));
        let living = dir.path().join(format!("{PROFILE_PREFIX}1-0"));
        let other = dir.path().join("something-else-1");
        let file = dir.path().join(format!("{PROFILE_PREFIX}{dead}-9"));
        for d in [&gone, &gone_too, &ours, &living, &other] {
            std::fs::create_dir_all(d.join("Default")).unwrap();
        }
        std::fs::write(&file, b"not a directory").unwrap();
        assert_eq!(sweep_profiles(dir.path()), 2);
        assert!(!gone.exists() && !gone_too.exists());
        assert!(ours.exists() && living.exists() && other.exists() && file.exists());
    }
}

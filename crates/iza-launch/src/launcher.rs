//! [`Launcher`]: the one way IZA starts a child process.
//!
//! A guarded launcher wraps the program in `EXE __launch PARENT -- PROGRAM ARGS...` (EXE is
//! the running `iza`, which handles that first thing, `guard.rs`) and spawns it on one
//! dedicated, never-ending thread: `PR_SET_PDEATHSIG` fires when the *thread* that forked the
//! child ends, and Tokio threads come and go (blocking-pool threads exit when idle, a worker
//! may hand its place to another), while `tokio::process` spawns on the calling thread. The
//! program is looked up before the spawn, so a missing program is still a spawn error rather
//! than an exit status 127 of the launcher.
//!
//! A direct launcher (the [`Default`]) spawns on the calling thread as `tokio::process` does:
//! for library tests and tools that start no long-lived child.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use tokio::process::{Child, Command};

use crate::guard::LAUNCH_ARG;
use crate::leftovers::Records;

/// Starts child processes; cheap to clone and share. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Launcher {
    guard: Option<Arc<PathBuf>>,
    records: Option<Arc<Records>>,
}

impl Launcher {
    /// Spawns directly, with no parent-death guard.
    pub fn direct() -> Launcher {
        Launcher::default()
    }

    /// Spawns through `exe __launch`, so that every child dies with this process. `exe` must
    /// call [`crate::launch_main`] first thing in `main` (the `iza` binary does).
    pub fn guarded(exe: impl Into<PathBuf>) -> Launcher {
        Launcher {
            guard: Some(Arc::new(exe.into())),
            records: None,
        }
    }

    /// Also records the children started with [`Launcher::spawn_recorded`], so that the next
    /// run can stop them if this one dies without stopping them ([`crate::sweep`]).
    pub fn with_records(mut self, records: Arc<Records>) -> Launcher {
        self.records = Some(records);
        self
    }

    /// Whether children get the parent-death guard.
    pub fn is_guarded(&self) -> bool {
        self.guard.is_some()
    }

    /// A command that runs `program`. Configure it as any Tokio command (arguments,
    /// environment, working directory, standard streams, process group, `kill_on_drop`), then
    /// start it with [`Launcher::spawn`] of this same launcher, never with its own `spawn`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.guard {
            None => Command::new(program),
            Some(exe) => {
                let mut command = Command::new(exe.as_path());
                command
                    .arg(LAUNCH_ARG)
                    .arg(std::process::id().to_string())
                    .arg("--")
                    .arg(program);
                command
            }
        }
    }

    /// Starts a command built by [`Launcher::command`]. Must be called within a Tokio
    /// runtime (the child's pipes and exit are driven by it). The error of a program that
    /// cannot be found or run is the one a direct spawn gives (`NotFound`,
    /// `PermissionDenied`).
    pub async fn spawn(&self, command: Command) -> io::Result<Child> {
        if self.guard.is_none() {
            let mut command = command;
            return command.spawn();
        }
        check_program(&command)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _entered = runtime.enter();
            let mut command = command;
            // When the caller gave up waiting, the child is dropped (killed if the command
            // asked for `kill_on_drop`).
            let _ = answer.send(command.spawn());
        });
        spawner()?
            .send(job)
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?;
        answered
            .await
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?
    }

    /// [`Launcher::spawn`], and records the child's process group under `label` when this
    /// launcher keeps records. Use it for a child that leads its own process group
    /// (`process_group(0)`) and may live long (a service, a task run); call
    /// [`Launcher::forget`] once it has exited.
    pub async fn spawn_recorded(&self, command: Command, label: &str) -> io::Result<Child> {
        let child = self.spawn(command).await?;
        if let (Some(records), Some(pid)) = (&self.records, child.id())
            && let Err(err) = records.add(pid, label)
        {
            tracing::warn!(
                "cannot record the process of `{label}` in `{}`: {err}",
                records.path().display()
            );
        }
        Ok(child)
    }

    /// Drops the record of a child started with [`Launcher::spawn_recorded`] that has exited.
    pub fn forget(&self, pid: u32) {
        if let Some(records) = &self.records {
            let _ = records.remove(pid);
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The thread every guarded child is spawned from; it lives as long as the process.
fn spawner() -> io::Result<&'static mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (jobs, queue) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("iza-spawner".into())
                .spawn(move || {
                    for job in queue {
                        job();
                    }
                })
                .ok()
                .map(|_| jobs)
        })
        .as_ref()
        .ok_or_else(|| io::Error::other("cannot start the spawner thread"))
}

/// Finds the program the launcher will `exec` as `execvp` would (through `PATH` when it has
/// no `/`, relative to the working directory otherwise), so that a missing one fails the
/// spawn instead of the launcher.
fn check_program(command: &Command) -> io::Result<()> {
    let std = command.as_std();
    let mut args = std.get_args();
    if args.next() != Some(OsStr::new(LAUNCH_ARG)) {
        return Ok(());
    }
    let Some(program) = args.nth(2) else {
        return Ok(());
    };
    let dir = std.get_current_dir();
    if program.as_encoded_bytes().contains(&b'/') {
        let path = Path::new(program);
        let path = match dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_owned(),
        };
        executable(&path)
    } else {
        let path_var = std
            .get_envs()
            .find(|(key, _)| *key == "PATH")
            .map(|(_, value)| value.map(OsStr::to_os_string))
            .unwrap_or_else(|| std::env::var_os("PATH"))
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let mut found = Err(errno(rustix::io::Errno::NOENT));
        for entry in std::env::split_paths(&path_var) {
            let entry = match dir {
                Some(dir) if entry.is_relative() => dir.join(entry),
                _ => entry,
            };
            match executable(&entry.join(program)) {
                Ok(()) => {
                    found = Ok(());
                    break;
                }
                Err(err) if err.kind() == io::ErrorKind::PermissionDenied => found = Err(err),
                Err(_) => {}
            }
        }
        found
    }
}

fn executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path)?;
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        Ok(())
    } else {
        Err(errno(rustix::io::Errno::ACCESS))
    }
}

fn errno(errno: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_guarded_command_runs_through_the_launcher_argument() {
        // `echo` as the launcher shows what the real one would be given.
        let launcher = Launcher::guarded("/bin/echo");
        assert!(launcher.is_guarded());
        let mut command = launcher.command("true");
        command
            .arg("an argument")
            .stdout(std::process::Stdio::piped());
        let output = launcher
            .spawn(command)
            .await
            .unwrap()
            .wait_with_output()
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("__launch {} -- true an argument\n", std::process::id())
        );
    }

    #[tokio::test]
    async fn a_missing_program_fails_the_spawn_as_a_direct_one_would() {
        for launcher in [Launcher::direct(), Launcher::guarded("/bin/echo")] {
            let err = launcher
                .spawn(launcher.command("no-such-program-here"))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{launcher:?}");
            let mut command = launcher.command("./nope");
            command.current_dir("/");
            let err = launcher.spawn(command).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{launcher:?}");
            // A directory is found but cannot be run.
            let err = launcher.spawn(launcher.command("/tmp")).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{launcher:?}");
        }
    }
}

//! Spawns one supervised process and signals its process group.
//!
//! The child runs in a new process group (`process_group(0)`: its pid is the group id), so a
//! signal to the group reaches everything it started. Its argv runs without a shell: a first
//! element `iza` means the running binary ([`Launch::self_exe`]); a program with a `/` is
//! taken relative to the manifest's directory; any other is looked up on `PATH`. The working
//! directory is the service's `workdir` (relative to the manifest's directory) or that
//! directory; `env` is added to the inherited environment. Stdin is closed, stdout and stderr
//! are piped to the caller, which reads them line by line into the log book.
//!
//! It spawns through the [`Launcher`] of its [`Launch`] (`iza-launch`): under `iza up` a
//! guarded one, so the child gets `SIGKILL` if `iza` dies, and its group is recorded in
//! `.iza/children/` for the next start to sweep.
//!
//! It does not decide when to start or stop (the runner does).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use indexmap::IndexMap;
use iza_catalog::model::StopSignal;
use iza_launch::Launcher;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::process::Child;

/// What every spawn needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The manifest's directory: relative programs and `workdir`s are resolved against it.
    pub base_dir: PathBuf,
    /// The binary a first argument `iza` stands for (the CLI passes `current_exe()`).
    pub self_exe: Option<PathBuf>,
    /// How children are started: [`Launcher::direct`] by default, a guarded one under
    /// `iza up` so that they die with it.
    pub launcher: Launcher,
}

/// A spawned child and its group.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) pid: u32,
}

/// Spawns `command` in its own process group, recorded under the service's id `label`.
pub(crate) async fn spawn(
    launch: &Launch,
    label: &str,
    command: &[String],
    workdir: Option<&str>,
    env: &IndexMap<String, String>,
) -> std::io::Result<Spawned> {
    let Some((program, args)) = command.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the command is empty",
        ));
    };
    let program = resolve(launch, program);
    let dir = match workdir {
        Some(dir) if Path::new(dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => launch.base_dir.join(dir),
        None => launch.base_dir.clone(),
    };
    let mut cmd = launch.launcher.command(&program);
    cmd.args(args)
        .envs(env.iter())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if !dir.as_os_str().is_empty() {
        cmd.current_dir(&dir);
    }
    let child = launch
        .launcher
        .spawn_recorded(cmd, label)
        .await
        .map_err(|err| {
            std::io::Error::new(
                err.kind(),
                format!("cannot start `{}`: {err}", program.display()),
            )
        })?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process ended before its pid was read"))?;
    Ok(Spawned { child, pid })
}

/// Drops the record of a spawned child when its run ends.
pub(crate) struct Recorded {
    launcher: Launcher,
    pid: u32,
}

impl Recorded {
    pub(crate) fn new(launcher: &Launcher, pid: u32) -> Recorded {
        Recorded {
            launcher: launcher.clone(),
            pid,
        }
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.launcher.forget(self.pid);
    }
}

fn resolve(launch: &Launch, program: &str) -> PathBuf {
    if program == "iza"
        && let Some(exe) = &launch.self_exe
    {
        return exe.clone();
    }
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() {
        launch.base_dir.join(path)
    } else {
        path.to_owned()
    }
}

/// The platform signal for a manifest signal.
pub(crate) fn signal_of(signal: StopSignal) -> Signal {
    match signal {
        StopSignal::Sigterm => Signal::TERM,
        StopSignal::Sigint => Signal::INT,
        StopSignal::Sigquit => Signal::QUIT,
        StopSignal::Sighup => Signal::HUP,
        StopSignal::Sigusr1 => Signal::USR1,
        StopSignal::Sigusr2 => Signal::USR2,
        StopSignal::Sigkill => Signal::KILL,
    }
}

/// Sends `signal` to the process group `pgid`; returns whether the group still existed.
pub(crate) fn signal_group(pgid: u32, signal: Signal) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    // ESRCH: nobody is left in the group.
    kill_process_group(pid, signal).is_ok()
}

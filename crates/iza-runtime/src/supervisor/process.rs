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
//! It does not decide when to start or stop (the runner does).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use indexmap::IndexMap;
use iza_catalog::model::StopSignal;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::process::{Child, Command};

/// What every spawn needs to know about its surroundings.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The manifest's directory: relative programs and `workdir`s are resolved against it.
    pub base_dir: PathBuf,
    /// The binary a first argument `iza` stands for (the CLI passes `current_exe()`).
    pub self_exe: Option<PathBuf>,
}

/// A spawned child and its group.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) pid: u32,
}

/// Spawns `command` in its own process group.
pub(crate) fn spawn(
    launch: &Launch,
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
    let mut cmd = Command::new(&program);
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
    let child = cmd.spawn().map_err(|err| {
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

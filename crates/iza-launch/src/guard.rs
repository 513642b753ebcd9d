//! The launcher side of a guarded spawn: `iza __launch PARENT -- PROGRAM ARGS...` sets the
//! parent-death signal, makes sure the parent it was started for is still its parent, and
//! becomes PROGRAM (`exec`: same pid, same process group, same environment, working directory
//! and open files). The parent-death signal survives `exec`, so PROGRAM gets `SIGKILL` when
//! the thread that spawned it ends, which [`crate::Launcher`] makes the end of IZA.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;

/// The hidden first argument that makes `iza` a launcher.
pub const LAUNCH_ARG: &str = "__launch";

/// Call first thing in `main`, before parsing the command line: when the arguments are
/// `__launch PARENT -- PROGRAM ARGS...`, it becomes PROGRAM and never returns (it exits with
/// status 127 and a line on stderr when PROGRAM cannot be started, and with status 1 when
/// its parent died before the guard was set); otherwise it returns at once.
pub fn launch_main() {
    let mut args = std::env::args_os();
    if args.nth(1).is_none_or(|first| first != LAUNCH_ARG) {
        return;
    }
    std::process::exit(launch(args.collect()));
}

/// Becomes the program; returns the exit status to use when it could not.
fn launch(args: Vec<OsString>) -> i32 {
    let (Some(parent), Some(separator), Some(program)) = (args.first(), args.get(1), args.get(2))
    else {
        eprintln!("error: usage: iza {LAUNCH_ARG} PARENT_PID -- PROGRAM [ARGS...]");
        return 127;
    };
    let Some(parent) = parent.to_str().and_then(|p| p.parse::<i32>().ok()) else {
        eprintln!("error: `{}` is not a process id", parent.to_string_lossy());
        return 127;
    };
    if separator != "--" {
        eprintln!("error: usage: iza {LAUNCH_ARG} PARENT_PID -- PROGRAM [ARGS...]");
        return 127;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(err) =
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
    {
        eprintln!("error: cannot set the parent-death signal: {err}");
        return 127;
    }
    // The parent may have died between the fork and the line above: then this process was
    // reparented and nothing would ever kill it. Checked after the signal is set, so one of
    // the two catches every case.
    if rustix::process::getppid().map(rustix::process::Pid::as_raw_nonzero)
        != std::num::NonZeroI32::new(parent)
    {
        return 1;
    }
    let err = std::process::Command::new(program).args(&args[3..]).exec();
    eprintln!("error: cannot start `{}`: {err}", program.to_string_lossy());
    127
}

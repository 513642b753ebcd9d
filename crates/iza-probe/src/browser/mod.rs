//! The one headless Chromium that every browser check of a [`crate::Prober`] shares: started
//! on the first browser check (through the prober's [`Launcher`], so that it dies with `iza`,
//! even on `SIGKILL`), started again when it has died, and shared by at most
//! [`BrowserOptions::max_pages`] pages at a time. Each check gets a fresh browser context
//! (no cookie or storage leaks between checks) that is disposed of afterwards. Between checks
//! it is replaced by a fresh one once its process group holds more than
//! [`BrowserOptions::max_memory`] (the old one is killed when its last check ends); its first
//! start sweeps the profile directories an `iza` killed with `SIGKILL` left (`upkeep.rs`).
//!
//! The prober belongs to whoever runs checks (the runtime's monitor, `iza status`), so the
//! browser lives exactly as long as they do. This module starts and keeps the process; what a
//! check does with a page is `kinds/browser.rs`; the protocol's transport is `cdp.rs`.

pub(crate) mod cdp;
mod upkeep;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iza_launch::Launcher;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use cdp::Connection;

use crate::result::{Failure, Reason};

/// The variable that names the Chromium program, when it is not `/usr/bin/chromium`.
pub const CHROMIUM_VAR: &str = "IZA_CHROMIUM";

/// How browser checks use Chromium.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// The Chromium (or Chrome) program: `$IZA_CHROMIUM`, else `/usr/bin/chromium`.
    pub program: PathBuf,
    /// Pages open at once; further checks wait for one to close (4 by default).
    pub max_pages: usize,
    /// How long a check may wait for a page before it is given up as
    /// [`Reason::Unavailable`] (60 s by default). The wait does not count against the
    /// check's timeout: time spent queued behind other checks is IZA's, not the target's.
    pub max_wait: Duration,
    /// How long Chromium may take to start (20 s by default).
    pub start_timeout: Duration,
    /// The most memory Chromium may hold, the sum over its process group of the proportional
    /// set sizes (shared pages divided among their sharers), before it is restarted: checked when a check starts, a fresh Chromium serves it
    /// and later checks, and the old one is killed when its running checks end (1 GiB by
    /// default; `None`: never).
    pub max_memory: Option<u64>,
}

/// The default of [`BrowserOptions::max_memory`]: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1024 * 1024 * 1024;

impl Default for BrowserOptions {
    fn default() -> BrowserOptions {
        BrowserOptions {
            program: std::env::var_os(CHROMIUM_VAR)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium")),
            max_pages: 4,
            max_wait: Duration::from_secs(60),
            start_timeout: Duration::from_secs(20),
            max_memory: Some(DEFAULT_MAX_MEMORY),
        }
    }
}

/// The shared browser: started lazily, restarted when dead.
pub(crate) struct Browser {
    options: BrowserOptions,
    launcher: Launcher,
    running: Mutex<Option<Arc<Running>>>,
    pages: Arc<Semaphore>,
    swept: std::sync::atomic::AtomicBool,
    restarts: AtomicU64,
}

/// A started Chromium and the connection to it.
pub(crate) struct Running {
    pub(crate) connection: Connection,
    child: std::sync::Mutex<Child>,
    pid: Option<u32>,
    dir: PathBuf,
}

impl Running {
    /// Whether the process is gone or its connection closed.
    fn is_dead(&self) -> bool {
        if self.connection.is_closed() {
            return true;
        }
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        !matches!(child.try_wait(), Ok(None))
    }

    /// The process id of the browser's main process.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        stop(self.pid, &self.dir);
    }
}

/// Kills a Chromium's process group (its renderers and helpers go with it) and removes its
/// profile directory.
fn stop(pid: Option<u32>, dir: &std::path::Path) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = std::fs::remove_dir_all(dir);
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A page slot: the browser to open a page in, and the permit that bounds open pages.
pub(crate) struct Slot {
    pub(crate) browser: Arc<Running>,
    _permit: OwnedSemaphorePermit,
}

impl Browser {
    pub(crate) fn new(options: BrowserOptions, launcher: Launcher) -> Browser {
        let pages = Arc::new(Semaphore::new(options.max_pages.max(1)));
        Browser {
            options,
            launcher,
            running: Mutex::new(None),
            pages,
            swept: std::sync::atomic::AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        }
    }

    /// How many times Chromium was replaced for holding more than
    /// [`BrowserOptions::max_memory`].
    pub(crate) fn memory_restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The main process id of the running Chromium, if one runs.
    pub(crate) async fn pid(&self) -> Option<u32> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .filter(|r| !r.is_dead())
            .and_then(|r| r.pid())
    }

    /// Waits for a page slot, starting Chromium if it is not running (or has died). Without
    /// Chromium on the machine the failure is [`Reason::Unavailable`]; so is a wait of more
    /// than [`BrowserOptions::max_wait`] for a page (its service is `unknown`, since the target
    /// was never looked at). Chromium's start is bounded by its own `start_timeout`.
    pub(crate) async fn slot(&self) -> Result<Slot, Failure> {
        let program = &self.options.program;
        if !program.exists() {
            return Err(Failure::new(
                Reason::Unavailable,
                format!(
                    "Chromium is not installed (`{}` does not exist); hint: run `scripts/browser-deps.sh` (Debian's `chromium` package), or set {CHROMIUM_VAR} to a Chromium program",
                    program.display()
                ),
            ));
        }
        let wait = self.options.max_wait;
        let permit = tokio::time::timeout(wait, self.pages.clone().acquire_owned())
            .await
            .map_err(|_| {
                Failure::new(
                    Reason::Unavailable,
                    format!(
                        "no browser page became free within {}: all {} were busy with other browser checks; spread their intervals, or run fewer at once",
                        humantime::format_duration(wait),
                        self.options.max_pages.max(1)
                    ),
                )
            })?
            .map_err(|_| Failure::new(Reason::Browser, "the browser is shutting down"))?;
        let mut running = self.running.lock().await;
        if let Some(current) = running.as_ref()
            && !current.is_dead()
        {
            let held = self
                .options
                .max_memory
                .zip(current.pid())
                .and_then(|(limit, pid)| upkeep::group_memory(pid).filter(|rss| *rss > limit));
            match held {
                None => {
                    return Ok(Slot {
                        browser: current.clone(),
                        _permit: permit,
                    });
                }
                Some(rss) => {
                    // The checks still running keep the old one; it is killed when they end.
                    tracing::warn!(
                        "the browser of browser checks holds {} MiB, more than its limit of {} MiB; starting a fresh one",
                        rss / (1024 * 1024),
                        self.options.max_memory.unwrap_or(0) / (1024 * 1024)
                    );
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                    running.take();
                }
            }
        }
        if running.take().is_some() {
            tracing::warn!("the browser of browser checks has died; starting it again");
        }
        let started = self
            .start()
            .await
            .map_err(|e| Failure::new(Reason::Browser, e))?;
        *running = Some(started.clone());
        Ok(Slot {
            browser: started,
            _permit: permit,
        })
    }

    async fn start(&self) -> Result<Arc<Running>, String> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        if !self.swept.swap(true, Ordering::Relaxed) {
            let temp = std::env::temp_dir();
            let _ = tokio::task::spawn_blocking(move || upkeep::sweep_profiles(&temp)).await;
        }
        let program = &self.options.program;
        let dir = std::env::temp_dir().join(format!(
            "{}{}-{}",
            upkeep::PROFILE_PREFIX,
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut command = self.launcher.command(program);
        command
            .args([
                "--headless",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--mute-audio",
                "--hide-scrollbars",
                "--password-store=basic",
                "--use-mock-keychain",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", dir.display()));
        // Chromium refuses to start its sandbox as root (containers, CI).
        if rustix::process::geteuid().is_root() {
            command.arg("--no-sandbox");
        }
        command
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = self
            .launcher
            .spawn(command)
            .await
            .map_err(|e| format!("cannot start Chromium `{}`: {e}", program.display()))?;
        let pid = child.id();
        let Some(stderr) = child.stderr.take() else {
            stop(pid, &dir);
            return Err("cannot read Chromium's output".to_owned());
        };
        let mut lines = BufReader::new(stderr).lines();
        let mut last = String::new();
        let found = tokio::time::timeout(self.options.start_timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.trim().strip_prefix("DevTools listening on ") {
                    return Some(url.to_owned());
                }
                last = line;
            }
            None
        })
        .await;
        let url = match found {
            Ok(Some(url)) => url,
            Ok(None) => {
                stop(pid, &dir);
                return Err(format!(
                    "Chromium `{}` exited while starting: {}",
                    program.display(),
                    last.trim()
                ));
            }
            Err(_) => {
                stop(pid, &dir);
                return Err(format!(
                    "Chromium `{}` did not start within {}",
                    program.display(),
                    humantime::format_duration(self.options.start_timeout)
                ));
            }
        };
        // Chromium keeps writing to stderr; read it so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        match Connection::connect(&url).await {
            Ok(connection) => {
                tracing::info!("started Chromium for browser checks (pid {pid:?})");
                Ok(Arc::new(Running {
                    connection,
                    child: std::sync::Mutex::new(child),
                    pid,
                    dir,
                }))
            }
            Err(err) => {
                stop(pid, &dir);
                Err(err)
            }
        }
    }
}

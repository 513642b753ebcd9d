//! Probes one health check once: [`Prober::probe`] runs the check's kind (`http`, `tcp`,
//! `tls`, `dns`, `exec`, `postgres`, `redis`, `amqp`, `mcp`) within the check's timeout,
//! records what it observed as [`Facts`], evaluates the check's conditions against them and
//! returns a [`ProbeResult`]: up, or down with a [`Failure`] that names the failed condition
//! and the value it saw, or the error.
//!
//! A [`Prober`] holds what is costly to build and reusable across probes: the rustls
//! configurations (system roots loaded once), one HTTP client per (redirect policy, TLS
//! verification) pair with its connection pool, and the DNS resolvers. Build one and share it
//! (it is `Send + Sync`); [`probe`] uses a process-wide default one.
//!
//! Memory per probe is bounded: bodies and outputs are read up to
//! [`ProberOptions::body_limit`], protocol answers up to a few kilobytes, and nothing is
//! buffered past that. No input or server can make a probe panic or outlive its timeout.

pub mod broker_tls;
mod browser;
pub mod compare;
mod conditions;
mod figures;
mod kinds;
mod net;
mod result;
mod tls_config;
mod x509;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iza_catalog::condition::{Condition, Operand, Placeholder};
use iza_catalog::model::{Check, CheckTarget, Service};
pub use iza_launch::Launcher;

pub use browser::{BrowserOptions, CHROMIUM_VAR, DEFAULT_MAX_MEMORY};
pub use conditions::{Evaluator, failed_conditions, glob_matches};
pub use figures::FigureBoard;
pub use result::{
    BrowserFacts, Comparison, Facts, Failure, Outcome, ProbeResult, Reason, Screenshot, StepReport,
};

/// A rustls client configuration that verifies servers against the system's roots, with the
/// same crypto provider as the probes. The workspace builds reqwest without a default TLS
/// provider, so any other HTTP client in the process (the CLI's API client) takes this one;
/// the error says why TLS cannot be used at all.
pub fn verifying_tls_config() -> Result<rustls::ClientConfig, String> {
    Ok((*tls_config::TlsConfigs::new(&[])?.verified).clone())
}

/// How a [`Prober`] behaves; [`Default`] suits a monitor.
#[derive(Debug, Clone)]
pub struct ProberOptions {
    /// The directory relative `cwd`s of `exec` checks are resolved against (the manifest's
    /// directory); the process's current directory when empty.
    pub base_dir: PathBuf,
    /// The most of a body (HTTP, MCP) or of standard output (`exec`) kept per probe; the rest
    /// is not read (HTTP) or read and discarded (`exec`). 1 MiB by default.
    pub body_limit: usize,
    /// Extra trusted root certificates (DER), besides the system's, for `verify_tls = true`.
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Keep HTTP connections open between probes of the same host:port (default `true`). It
    /// saves a TCP (and TLS) handshake per probe; each idle connection holds a file
    /// descriptor until `idle_timeout`.
    pub reuse_connections: bool,
    /// How long an idle kept-open HTTP connection lives (90 s by default).
    pub idle_timeout: Duration,
    /// How `exec` checks start their program: [`Launcher::direct`] by default; the CLI passes
    /// a guarded one so that a check's process dies with `iza`. Browser checks start their
    /// shared Chromium with it, too.
    pub launcher: Launcher,
    /// Which Chromium browser checks use, and how many pages they open at once.
    pub browser: BrowserOptions,
    /// The services' latest business figures, read by `[METRIC].<figure>` conditions of the
    /// check of the service named by [`ProbeContext::service`] (empty by default: such a
    /// condition then fails with "no value yet").
    pub figures: FigureBoard,
}

impl Default for ProberOptions {
    fn default() -> ProberOptions {
        ProberOptions {
            base_dir: PathBuf::new(),
            body_limit: 1024 * 1024,
            extra_root_certificates: Vec::new(),
            reuse_connections: true,
            idle_timeout: Duration::from_secs(90),
            launcher: Launcher::direct(),
            browser: BrowserOptions::default(),
            figures: FigureBoard::default(),
        }
    }
}

/// Where and with what environment an `exec` check runs: the owning service's `cwd` and
/// `env`. Other kinds ignore it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeContext {
    /// Working directory; relative paths resolve against [`ProberOptions::base_dir`].
    pub cwd: Option<PathBuf>,
    /// Variables added to (or overriding) the prober's own environment.
    pub env: Vec<(String, String)>,
    /// The service whose check it is: `[METRIC].<figure>` reads its figures.
    pub service: Option<String>,
}

impl ProbeContext {
    /// The context of a service's check: its `cwd` and `env`.
    pub fn of_service(service: &Service) -> ProbeContext {
        ProbeContext {
            cwd: service.workdir.as_ref().map(PathBuf::from),
            env: service
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            service: Some(service.id.clone()),
        }
    }
}

/// Probes checks, reusing clients and configuration across probes. Share one per process
/// (behind an `Arc`); probes may run concurrently.
///
/// A prober belongs to one Tokio runtime: its kept-open connections and DNS sockets are
/// driven by tasks of the runtime where they were first used.
pub struct Prober {
    options: ProberOptions,
    tls: OnceLock<Result<tls_config::TlsConfigs, String>>,
    http: kinds::http::Clients,
    dns: kinds::dns::Resolvers,
    browser: browser::Browser,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for Prober {
    fn default() -> Prober {
        Prober::new(ProberOptions::default())
    }
}

impl Prober {
    /// A prober; clients and resolvers are built on first use.
    pub fn new(options: ProberOptions) -> Prober {
        Prober {
            browser: browser::Browser::new(options.browser.clone(), options.launcher.clone()),
            options,
            tls: OnceLock::new(),
            http: kinds::http::Clients::default(),
            dns: kinds::dns::Resolvers::default(),
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> &ProberOptions {
        &self.options
    }

    /// Probes a check once, with no service context (an `exec` check runs in the base
    /// directory with the prober's environment).
    pub async fn probe(&self, check: &Check) -> ProbeResult {
        self.probe_in(check, &ProbeContext::default()).await
    }

    /// Probes a check once; an `exec` check runs with the context's `cwd` and `env`.
    ///
    /// The whole probe (name resolution, connection, handshake, reading the answer, running
    /// the program) is bounded by the check's `timeout`; past it the probe is abandoned (an
    /// `exec` check's process group is killed) and the result is down with
    /// [`Reason::Timeout`]. A browser check waits for a page first, outside its timeout and
    /// bounded by [`BrowserOptions::max_wait`].
    pub async fn probe_in(&self, check: &Check, context: &ProbeContext) -> ProbeResult {
        let mut facts = Facts::default();
        if let Some(service) = &context.service
            && check
                .conditions
                .iter()
                .any(|c| c.figures().next().is_some())
        {
            facts.figures = self
                .options
                .figures
                .service(service)
                .into_iter()
                .map(|(name, value)| (name, conditions::number_text(value).into_owned()))
                .collect();
        }
        // A browser check first waits for a page (bounded by its own limit): the time spent
        // queued behind other browser checks is IZA's, not the target's, so the check's
        // timeout starts once it has one.
        let page = match &check.target {
            CheckTarget::Browser(_) | CheckTarget::Compare(_) => match self.browser.slot().await {
                Ok(page) => Some(page),
                Err(failure) => return result(check, facts, Duration::ZERO, Some(failure)),
            },
            _ => None,
        };
        let started = Instant::now();
        let run = kinds::run(self, check, context, page, &mut facts);
        let error = match tokio::time::timeout(check.timeout, run).await {
            Ok(Ok(())) => None,
            Ok(Err(failure)) => Some(failure),
            Err(_) => Some(timed_out(check)),
        };
        result(check, facts, started.elapsed(), error)
    }

    pub(crate) fn tls(&self) -> Result<&tls_config::TlsConfigs, Failure> {
        self.tls
            .get_or_init(|| {
                let extra: Vec<_> = self
                    .options
                    .extra_root_certificates
                    .iter()
                    .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
                    .collect();
                tls_config::TlsConfigs::new(&extra)
            })
            .as_ref()
            .map_err(|e| Failure::new(Reason::Tls, e.clone()))
    }

    /// How many times the shared Chromium was restarted for holding more than
    /// [`BrowserOptions::max_memory`] (for diagnostics and tests).
    pub fn browser_memory_restarts(&self) -> u64 {
        self.browser.memory_restarts()
    }

    /// The process id of the shared Chromium, while it runs (for diagnostics and tests).
    pub async fn browser_pid(&self) -> Option<u32> {
        self.browser.pid().await
    }

    pub(crate) fn base_dir(&self) -> &Path {
        &self.options.base_dir
    }
}

/// Probes a check once with a process-wide default [`Prober`] (for one-shot uses such as a
/// CLI; a monitor builds its own with the manifest's directory as `base_dir`).
pub async fn probe(check: &Check) -> ProbeResult {
    static DEFAULT: OnceLock<Prober> = OnceLock::new();
    DEFAULT.get_or_init(Prober::default).probe(check).await
}

/// The result of a probe that took `duration` and ended with `error` (if any).
fn result(check: &Check, facts: Facts, duration: Duration, error: Option<Failure>) -> ProbeResult {
    let failure = verdict(check, &facts, duration, error);
    ProbeResult {
        outcome: if failure.is_none() {
            Outcome::Up
        } else {
            Outcome::Down
        },
        duration,
        facts,
        failure,
    }
}

fn timed_out(check: &Check) -> Failure {
    let after = humantime::format_duration(check.timeout);
    let message = match check.target {
        CheckTarget::Exec(_) => format!("timed out after {after}; the process group was killed"),
        _ => format!("timed out after {after}"),
    };
    Failure::new(Reason::Timeout, message)
}

/// The failure that makes the check down, if any.
///
/// An error makes the check down, except a failure to connect when a condition reads
/// `[CONNECTED]`: then the conditions decide (so `[CONNECTED] == false` can watch a port that
/// must stay closed). Without conditions, each kind has a default: HTTP and MCP status below
/// 400, DNS `NOERROR` with at least one record, and otherwise the kind's own success.
pub(crate) fn verdict(
    check: &Check,
    facts: &Facts,
    duration: Duration,
    error: Option<Failure>,
) -> Option<Failure> {
    if let Some(error) = error {
        let tolerated = !facts.connected && check.conditions.iter().any(reads_connected);
        if !tolerated || !failed_conditions(&check.conditions, facts, duration).is_empty() {
            return Some(error);
        }
        return None;
    }
    if check.conditions.is_empty() {
        return default_failure(check, facts);
    }
    let failed = failed_conditions(&check.conditions, facts, duration);
    let (first, _) = failed.first()?;
    Some(Failure {
        reason: Reason::Condition,
        message: failed
            .iter()
            .map(|(_, seen)| seen.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        condition: Some(first.text.clone()),
    })
}

fn reads_connected(condition: &Condition) -> bool {
    [&condition.left, &condition.right].into_iter().any(|side| {
        matches!(side, Operand::Value(v) | Operand::Len(v) | Operand::Has(v)
            if v.placeholder == Placeholder::Connected)
    })
}

fn default_failure(check: &Check, facts: &Facts) -> Option<Failure> {
    let condition = |text: &str, message: String| Failure {
        reason: Reason::Condition,
        message,
        condition: Some(text.to_owned()),
    };
    match &check.target {
        CheckTarget::Http(_) | CheckTarget::Mcp(_) | CheckTarget::Browser(_) => {
            match facts.status {
                Some(status) if status >= 400 => Some(condition(
                    "[STATUS] < 400",
                    format!("[STATUS] ({status}) < 400"),
                )),
                _ => None,
            }
        }
        CheckTarget::Compare(_) => {
            let browser = facts.browser.as_deref()?;
            let c = browser.comparison.as_ref()?;
            let status = |which: &str, status: Option<u16>| {
                status
                    .filter(|s| *s >= 400)
                    .map(|s| Failure::new(Reason::Condition, format!("the {which} answered {s}")))
            };
            let mut failed = Vec::new();
            if c.pixel_diff > 1.0 {
                failed.push(format!("[PIXEL_DIFF] ({}) <= 1", round3(c.pixel_diff)));
            }
            if c.text_similarity < 99.0 {
                failed.push(format!(
                    "[TEXT_SIMILARITY] ({}) >= 99",
                    round3(c.text_similarity)
                ));
            }
            if c.missing_link_count > 0 {
                failed.push(format!("[MISSING_LINKS] ({}) == 0", c.missing_link_count));
            }
            status("original", c.original_status)
                .or_else(|| status("replica", facts.status))
                .or_else(|| {
                    (!failed.is_empty()).then(|| Failure {
                        reason: Reason::Condition,
                        message: failed.join("; "),
                        condition: Some(
                            "[PIXEL_DIFF] <= 1 && [TEXT_SIMILARITY] >= 99 && [MISSING_LINKS] == 0"
                                .to_owned(),
                        ),
                    })
                })
        }
        CheckTarget::Dns(_) => match facts.dns_rcode.as_deref() {
            Some("NOERROR") if facts.body.is_none() => Some(Failure::new(
                Reason::Condition,
                format!(
                    "no `{}` record (NOERROR with an empty answer)",
                    check.record
                ),
            )),
            Some("NOERROR") => None,
            rcode => Some(condition(
                "[DNS_RCODE] == NOERROR",
                format!("[DNS_RCODE] ({}) == NOERROR", rcode.unwrap_or("none")),
            )),
        },
        _ => None,
    }
}

/// A number rounded to three decimals, as conditions show it.
fn round3(n: f64) -> f64 {
    (n * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::Arc;

    use super::*;

    /// Compiles only while a probe can be spawned on a multi-threaded runtime (an `async fn`
    /// would not state the `Send` bound).
    #[allow(dead_code, clippy::manual_async_fn)]
    fn a_probe_is_a_send_future(
        prober: Arc<Prober>,
        check: Check,
        context: ProbeContext,
    ) -> impl Future<Output = ProbeResult> + Send + 'static {
        async move { prober.probe_in(&check, &context).await }
    }
}

//! The supervisor with real child processes (`sh`, `sleep`), the real monitor for readiness,
//! and the event stream as the witness of order. Every wait polls with a deadline; every test
//! shuts the supervisor down and checks, through `/proc`, that no process of its groups is
//! left.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iza_catalog::Catalog;
use iza_runtime::supervisor::{Launch, LogOptions};
use iza_runtime::{
    Event, EventKind, Monitor, ProcessState, Stream, Supervisor, SupervisorError, SupervisorOptions,
};

use crate::support::{self, Collector, RecordingStore, wait_until};

/// Whether `kind` is the event that announces a process's move to `state`.
fn announces(state: ProcessState, kind: &EventKind) -> bool {
    matches!(
        (state, kind),
        (ProcessState::Starting, EventKind::ProcessStarting { .. })
            | (ProcessState::Running, EventKind::ProcessRunning { .. })
            | (ProcessState::Ready, EventKind::ProcessReady { .. })
            | (ProcessState::Exited, EventKind::ProcessExited { .. })
            | (ProcessState::Backoff, EventKind::ProcessRestarting { .. })
            | (ProcessState::Failed, EventKind::ProcessFailed { .. })
            | (ProcessState::Stopped, EventKind::ProcessStopped { .. })
    )
}

struct Harness {
    monitor: Arc<Monitor>,
    store: Arc<RecordingStore>,
    supervisor: Supervisor,
    events: Collector,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn start(services: impl FnOnce(&Path) -> String) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let catalog: Arc<Catalog> = support::catalog(&services(dir.path()));
        let store = Arc::new(RecordingStore::default());
        let monitor =
            Arc::new(support::start(catalog.clone(), store.clone(), support::options()).await);
        let events = Collector::new(&monitor);
        let supervisor = Supervisor::up(
            &catalog,
            monitor.clone(),
            SupervisorOptions {
                launch: Launch {
                    base_dir: dir.path().to_owned(),
                    self_exe: None,
                    launcher: Default::default(),
                },
                logs: LogOptions {
                    dir: Some(dir.path().join("logs")),
                    ..LogOptions::default()
                },
            },
        );
        Harness {
            monitor,
            store,
            supervisor,
            events,
            dir,
        }
    }

    fn state(&self, id: &str) -> ProcessState {
        self.supervisor.info(id).unwrap().state
    }

    /// Waits until `id` is in `state` and the event that announced it has reached the
    /// collector (events reach it after the state changes), so every earlier event is there too.
    async fn wait_state(&self, id: &str, state: ProcessState) {
        wait_until(&format!("`{id}` is {}", state.as_str()), || {
            self.state(id) == state
                && (state == ProcessState::Pending
                    || self.of(id).iter().any(|e| announces(state, &e.kind)))
        })
        .await;
    }

    /// Position of the first event matching `what` for `service`.
    fn position(&self, service: &str, what: fn(&EventKind) -> bool) -> Option<usize> {
        self.events
            .events()
            .iter()
            .position(|e| e.service() == Some(service) && what(&e.kind))
    }

    fn of(&self, service: &str) -> Vec<Arc<Event>> {
        self.events
            .events()
            .into_iter()
            .filter(|e| e.service() == Some(service))
            .collect()
    }

    /// Shuts down and asserts no process is left in any group the services ran in.
    async fn finish(self) -> iza_runtime::SupervisorShutdown {
        let groups: Vec<u32> = self
            .events
            .events()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::ProcessRunning { pid, .. } => Some(pid),
                _ => None,
            })
            .collect();
        let summary = self.supervisor.shutdown().await;
        for state in self.supervisor.ps() {
            assert!(
                !matches!(
                    state.state,
                    ProcessState::Running | ProcessState::Ready | ProcessState::Starting
                ),
                "{state:?}"
            );
        }
        let left = processes_in_groups(&groups);
        assert!(left.is_empty(), "processes left behind: {left:?}");
        self.monitor.shutdown(Duration::from_secs(1)).await;
        // Lifecycle events are recorded like status changes.
        let recorded = self.store.events();
        assert!(
            groups.is_empty()
                || recorded
                    .iter()
                    .any(|e| e.kind == "process-running" && e.service.is_some()),
            "{recorded:?}"
        );
        summary
    }
}

fn running(kind: &EventKind) -> bool {
    matches!(kind, EventKind::ProcessRunning { .. })
}

fn ready(kind: &EventKind) -> bool {
    matches!(kind, EventKind::ProcessReady { .. })
}

fn starting(kind: &EventKind) -> bool {
    matches!(kind, EventKind::ProcessStarting { .. })
}

/// Pids of live processes whose process group is one of `groups` (zombies excluded).
fn processes_in_groups(groups: &[u32]) -> Vec<(u32, u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let pgrp: u32 = pgrp.parse().unwrap_or(0);
        if *state != "Z" && groups.contains(&pgrp) {
            found.push((pid, pgrp, stat[..=close].to_owned()));
        }
    }
    found
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_start_in_order_and_independent_services_in_parallel() {
    let h = Harness::start(|dir| {
        let f = |n: &str| path(dir, n).display().to_string();
        // `x` and `y` only become ready once both have started: if the supervisor waited for
        // one before starting the other, neither would ever be ready.
        let both = format!("test -f {} && test -f {}", f("x.started"), f("y.started"));
        format!(
            r#"
[services.x]
command = ["sh", "-c", "touch {x}; exec sleep 1000"]
check = {{ exec = ["{both}"], shell = true, every = "100ms" }}
[services.y]
command = ["sh", "-c", "touch {y}; exec sleep 1000"]
check = {{ exec = ["{both}"], shell = true, every = "100ms" }}
[services.api]
command = ["sh", "-c", "test -f {x} && test -f {y} && touch {api}; exec sleep 1000"]
depends_on = ["x", {{ service = "y", condition = "healthy" }}]
[services.web]
command = ["sh", "-c", "exec sleep 1000"]
depends_on = [{{ service = "api", condition = "started" }}]
"#,
            x = f("x.started"),
            y = f("y.started"),
            api = f("api.started"),
        )
    })
    .await;
    h.wait_state("web", ProcessState::Ready).await;
    for id in ["x", "y", "api", "web"] {
        assert_eq!(h.state(id), ProcessState::Ready, "{id}");
    }
    let at = |id: &str, what| h.position(id, what).unwrap_or_else(|| panic!("{id}"));
    // Parallel: both were running before either was ready.
    assert!(at("x", running) < at("y", ready) && at("y", running) < at("x", ready));
    // Order: `api` starts only after both are ready (healthy by their checks).
    assert!(at("api", starting) > at("x", ready));
    assert!(at("api", starting) > at("y", ready));
    // `api` saw both files when it ran (its script only writes its own after checking).
    let api_file = h.dir.path().join("api.started");
    wait_until("`api` wrote its file", || api_file.exists()).await;
    // `web` waits for `api` to be started only.
    assert!(at("web", starting) > at("api", running));
    let plan: Vec<Vec<String>> = h
        .supervisor
        .plan()
        .waves
        .iter()
        .map(|w| w.iter().map(|p| p.id.clone()).collect())
        .collect();
    assert_eq!(plan, [vec!["x", "y"], vec!["api"], vec!["web"]]);
    let summary = h.finish().await;
    assert_eq!(summary.stopped.len(), 4);
    // Reverse order: `web` stopped before `api`, `api` before `x` and `y` (checked on the
    // recorded stream is not possible after shutdown closes it; the summary is in order).
    assert_eq!(summary.stopped[0], "web");
    assert_eq!(summary.stopped[1], "api");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_service_restarts_with_growing_delays_then_fails() {
    let h = Harness::start(|_| {
        r#"
[services.crash]
command = ["sh", "-c", "echo starting; exit 3"]
restart = { policy = "on-failure", max_restarts = 3, backoff = "50ms", max_backoff = "120ms" }
[services.after]
command = ["sleep", "1000"]
depends_on = [{ service = "crash", condition = "completed" }]
"#
        .to_owned()
    })
    .await;
    h.wait_state("crash", ProcessState::Failed).await;
    let delays: Vec<u64> = h
        .of("crash")
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ProcessRestarting { in_ms, .. } => Some(in_ms),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [50, 100, 120], "doubling, capped by `max_backoff`");
    let exits = h
        .of("crash")
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ProcessExited { code: Some(3), .. }))
        .count();
    assert_eq!(exits, 4, "the first run and three restarts");
    let info = h.supervisor.info("crash").unwrap();
    assert_eq!(info.restarts, 3);
    assert_eq!(info.last_exit.as_ref().and_then(|e| e.code), Some(3));
    assert!(info.reason.unwrap().contains("3 restarts"));
    assert!(matches!(
        h.of("crash").last().unwrap().kind,
        EventKind::ProcessFailed { restarts: 3, .. }
    ));
    // What waited for it to complete fails too, instead of waiting forever.
    h.wait_state("after", ProcessState::Failed).await;
    let reason = h.supervisor.info("after").unwrap().reason.unwrap();
    assert!(reason.contains("`crash` failed"), "{reason}");
    assert!(h.position("after", starting).is_none(), "never started");
    // Its output was kept across runs.
    let lines = h.supervisor.logs("crash", 100).unwrap();
    assert_eq!(lines.iter().filter(|l| l.text == "starting").count(), 4);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_kept_and_followed_and_written_to_files() {
    let h = Harness::start(|_| {
        r#"
[services.talker]
command = ["sh", "-c", "echo hello; echo oops >&2; while true; do echo tick; sleep 0.05; done"]
"#
        .to_owned()
    })
    .await;
    wait_until("`talker` said hello and ticked", || {
        let lines = h.supervisor.logs("talker", 1000).unwrap();
        lines
            .iter()
            .any(|l| l.text == "hello" && l.stream == Stream::Stdout)
            && lines
                .iter()
                .any(|l| l.text == "oops" && l.stream == Stream::Stderr)
            && lines.iter().any(|l| l.text == "tick")
    })
    .await;
    assert_eq!(h.supervisor.logs("talker", 2).unwrap().len(), 2);
    let mut follow = h.supervisor.follow("talker").unwrap();
    let next = tokio::time::timeout(support::DEADLINE, follow.recv())
        .await
        .expect("a new line within the deadline")
        .unwrap();
    assert_eq!(next.text, "tick");
    let last = h.supervisor.logs("talker", 1).unwrap()[0].seq;
    assert!(next.seq <= last);
    let file = h.dir.path().join("logs/talker.log");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(" out hello\n"), "{text}");
    assert!(text.contains(" err oops\n"), "{text}");
    assert!(matches!(
        h.supervisor.logs("ghost", 1),
        Err(SupervisorError::UnknownService(_))
    ));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_start_and_restart_by_hand_and_the_policy_does_not_undo_a_stop() {
    let h = Harness::start(|_| {
        r#"
[services.server]
command = ["sh", "-c", "sleep 1000 & exec sleep 1000"]
restart = "always"
stop = { signal = "SIGTERM", grace = "5s" }
[services.external]
port = 5432
"#
        .to_owned()
    })
    .await;
    h.wait_state("server", ProcessState::Ready).await;
    let first = h.supervisor.info("server").unwrap().pid.unwrap();
    h.supervisor.stop("server").await.unwrap();
    assert_eq!(h.state("server"), ProcessState::Stopped);
    assert!(
        processes_in_groups(&[first]).is_empty(),
        "its group is gone"
    );
    // A stopped service stays stopped: no restart is scheduled, whatever the policy. (The
    // events reach the collector after `stop` returns: wait for the stop's.)
    wait_until("the stop is announced", || {
        h.of("server")
            .last()
            .is_some_and(|e| matches!(e.kind, EventKind::ProcessStopped { killed: false, .. }))
    })
    .await;
    assert!(
        !h.of("server")
            .iter()
            .any(|e| matches!(e.kind, EventKind::ProcessRestarting { .. }))
    );
    h.supervisor.start("server").unwrap();
    h.wait_state("server", ProcessState::Ready).await;
    let second = h.supervisor.info("server").unwrap().pid.unwrap();
    assert_ne!(first, second);
    h.supervisor.restart("server").await.unwrap();
    h.wait_state("server", ProcessState::Ready).await;
    wait_until("a third process", || {
        h.supervisor
            .info("server")
            .unwrap()
            .pid
            .is_some_and(|p| p != second)
    })
    .await;
    assert!(processes_in_groups(&[second]).is_empty());
    assert_eq!(
        h.supervisor.start("external"),
        Err(SupervisorError::NotSupervised("external".into()))
    );
    assert_eq!(
        h.supervisor.stop("ghost").await,
        Err(SupervisorError::UnknownService("ghost".into()))
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_a_group_that_ignores_its_stop_signal_after_the_grace() {
    let h = Harness::start(|_| {
        r#"
[services.stubborn]
command = ["sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait"]
stop = { signal = "TERM", grace = "300ms" }
[services.polite]
command = ["sh", "-c", "sleep 1000 & exec sleep 1000"]
"#
        .to_owned()
    })
    .await;
    h.wait_state("stubborn", ProcessState::Ready).await;
    h.wait_state("polite", ProcessState::Ready).await;
    // The grandchildren are in the groups too.
    let pid = h.supervisor.info("stubborn").unwrap().pid.unwrap();
    wait_until("`stubborn` has its children", || {
        processes_in_groups(&[pid]).len() >= 3
    })
    .await;
    let summary = h.finish().await;
    assert_eq!(summary.killed, ["stubborn"]);
    let mut stopped = summary.stopped.clone();
    stopped.sort();
    assert_eq!(stopped, ["polite", "stubborn"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_starts_new_stops_removed_and_restarts_changed_services() {
    let h = Harness::start(|_| {
        r#"
[services.keep]
command = ["sleep", "1000"]
[services.change]
command = ["sleep", "1000"]
[services.drop]
command = ["sleep", "1000"]
"#
        .to_owned()
    })
    .await;
    for id in ["keep", "change", "drop"] {
        h.wait_state(id, ProcessState::Ready).await;
    }
    let pid = |id: &str| h.supervisor.info(id).unwrap().pid.unwrap();
    let (keep, change, drop) = (pid("keep"), pid("change"), pid("drop"));
    let next = support::catalog(
        r#"
[services.keep]
command = ["sleep", "1000"]
[services.change]
command = ["sleep", "999"]
[services.new]
command = ["sleep", "1000"]
"#,
    );
    let summary = h.supervisor.reload(&next).await;
    assert_eq!(summary.started, ["new"]);
    assert_eq!(summary.stopped, ["drop"]);
    assert_eq!(summary.restarted, ["change"]);
    h.wait_state("new", ProcessState::Ready).await;
    h.wait_state("change", ProcessState::Ready).await;
    assert_eq!(pid("keep"), keep);
    assert_ne!(pid("change"), change);
    assert!(processes_in_groups(&[drop, change]).is_empty());
    assert!(matches!(
        h.supervisor.info("drop"),
        Err(SupervisorError::UnknownService(_))
    ));
    let ids: Vec<String> = h.supervisor.ps().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["keep", "change", "new"]);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_service_is_probed_soon_so_readiness_does_not_wait_an_interval() {
    let h = Harness::start(|dir| {
        let ready = path(dir, "ready").display().to_string();
        // The first scheduled probe comes within 100 ms, before the file exists; the next one
        // would be an hour later.
        format!(
            r#"
[services.slow]
command = ["sh", "-c", "sleep 0.3; touch {ready}; exec sleep 1000"]
check = {{ exec = ["test", "-f", "{ready}"], every = "1h" }}
"#
        )
    })
    .await;
    h.wait_state("slow", ProcessState::Ready).await;
    let probes = h.events.probes_of("slow");
    assert!(probes.len() >= 2, "{probes:?}");
    assert!(probes.last().unwrap().2, "the last probe passed");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_service_is_ready_only_after_a_new_probe_passes() {
    let h = Harness::start(|dir| {
        let m = path(dir, "marker").display().to_string();
        format!(
            r#"
[services.web]
command = ["sh", "-c", "rm -f {m}; sleep 0.2; touch {m}; exec sleep 1000"]
check = {{ exec = ["test", "-f", "{m}"], every = "1h" }}
"#
        )
    })
    .await;
    h.wait_state("web", ProcessState::Ready).await;
    h.supervisor.restart("web").await.unwrap();
    wait_until("`web` is ready a second time", || {
        h.of("web")
            .iter()
            .filter(|e| matches!(e.kind, EventKind::ProcessReady { .. }))
            .count()
            == 2
    })
    .await;
    let events = h.of("web");
    let second_run = events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::ProcessRunning { .. }))
        .unwrap();
    let second_ready = events
        .iter()
        .rposition(|e| matches!(e.kind, EventKind::ProcessReady { .. }))
        .unwrap();
    assert!(
        events[second_run..second_ready].iter().any(|e| matches!(
            &e.kind,
            EventKind::ProbeCompleted { result, .. } if result.is_up()
        )),
        "ready again only after a passing probe of the new process: {events:#?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_cannot_be_spawned_is_an_exit_with_the_reason() {
    let h = Harness::start(|_| {
        r#"
[services.missing]
command = ["./no-such-program", "--flag"]
restart = "never"
[services.after]
command = ["sleep", "1000"]
depends_on = ["missing"]
"#
        .to_owned()
    })
    .await;
    h.wait_state("missing", ProcessState::Exited).await;
    let exit = h.supervisor.info("missing").unwrap().last_exit.unwrap();
    let message = exit.message.unwrap();
    assert!(
        message.contains("no-such-program") && exit.code.is_none(),
        "{message}"
    );
    assert!(h.of("missing").iter().any(|e| matches!(
        &e.kind,
        EventKind::ProcessExited {
            pid: None,
            message: Some(_),
            ..
        }
    )));
    h.wait_state("after", ProcessState::Failed).await;
    let reason = h.supervisor.info("after").unwrap().reason.unwrap();
    assert!(reason.contains("`missing` exited"), "{reason}");
    h.finish().await;
}

//! When each check is probed, and the task that starts the probes.
//!
//! [`Schedule`] is pure: one slot per checked service and one heap of due times. Every service
//! gets a random *phase* within its interval (spread: a thousand services with the same
//! interval do not all fire at once). Its first probe comes within the *start window*, so no
//! service stays `unknown` for a whole interval after a start or a reload; the second comes at
//! its phase (the first phase point after the first probe, less than one interval later), and
//! every later one exactly one interval after the previous *due time*, not after the probe
//! finished, so the schedule does not drift with probe durations. When the scheduler itself
//! wakes up more than an interval late, the intervals it slept through are skipped and
//! counted, never fired in a burst.
//!
//! The start window of a batch of N services scheduled together (every checked service at the
//! start; the added and changed ones at a reload) is `max(first_probe_within, N /
//! first_probe_rate)`: 2 s by default, longer only past 1,000 services at the default rate of
//! 500 a second. The batch's first probes are laid out evenly over it (the i-th at a random
//! moment of the i-th N-th of the window), so they start at no more than that rate. A service
//! whose interval is no longer than the window simply starts at its phase.
//!
//! The [`Scheduler`] task waits for the next due time, and for each due service starts a
//! probe task, unless the previous probe of that service is still running: then this one is
//! skipped and counted. A probe task waits for one of the monitor's concurrency slots (a
//! semaphore), probes within the check's timeout and a hard outer deadline, and hands the
//! result to the processor. Probes are never awaited by the scheduler, so a slow target delays
//! nothing but its own next probe.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use iza_catalog::Catalog;
use iza_catalog::model::{Check, CheckTarget, Service};
use iza_probe::{Facts, Failure, Outcome, ProbeContext, ProbeResult, Prober, Reason};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::event::ProbeSummary;
use crate::monitor::counters::Counters;
use crate::monitor::processor::Completed;
use crate::reload::CatalogDiff;

/// What probing one service's check takes.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSpec {
    pub(crate) check: Check,
    pub(crate) context: ProbeContext,
    /// The check's interval, at least the monitor's minimum.
    pub(crate) every: Duration,
}

impl ProbeSpec {
    /// The spec of a service's check, if it has one.
    pub(crate) fn of(service: &Service, min_interval: Duration) -> Option<ProbeSpec> {
        let check = service.check.clone()?;
        // A push check is not probed: its results come in (see `push.rs`).
        if matches!(check.target, iza_catalog::model::CheckTarget::Push(_)) {
            return None;
        }
        Some(ProbeSpec {
            every: check.every.max(min_interval).max(Duration::from_millis(1)),
            context: ProbeContext::of_service(service),
            check,
        })
    }
}

/// One probe that came due.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    pub(crate) service: Arc<str>,
    pub(crate) generation: u64,
    pub(crate) spec: Arc<ProbeSpec>,
    pub(crate) due: Instant,
    /// Set while a probe of this slot runs.
    pub(crate) in_flight: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Slot {
    spec: Arc<ProbeSpec>,
    generation: u64,
    next: Instant,
    /// After a first probe in the start window: when the one after it is due (the phase).
    then: Option<Instant>,
    in_flight: Arc<AtomicBool>,
}

/// The due times of every checked service; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    slots: HashMap<Arc<str>, Slot>,
    queue: BinaryHeap<Reverse<(Instant, u64, Arc<str>)>>,
}

impl Schedule {
    /// Schedules a service's check (replacing any previous one) with its first probe at
    /// `first_due`, and the next one at `then` when given (else one interval later).
    pub(crate) fn insert(
        &mut self,
        service: Arc<str>,
        generation: u64,
        spec: Arc<ProbeSpec>,
        (first_due, then): (Instant, Option<Instant>),
    ) {
        self.queue
            .push(Reverse((first_due, generation, service.clone())));
        self.slots.insert(
            service,
            Slot {
                spec,
                generation,
                next: first_due,
                then,
                in_flight: Arc::new(AtomicBool::new(false)),
            },
        );
    }

    /// Brings a service's next probe forward to `at` when it is due later; returns whether it
    /// did. The interval continues from `at`.
    pub(crate) fn expedite(&mut self, service: &str, at: Instant) -> bool {
        let Some((key, slot)) = self.slots.get_key_value(service) else {
            return false;
        };
        if slot.next <= at || slot.in_flight.load(Ordering::Acquire) {
            return false;
        }
        let (key, generation) = (key.clone(), slot.generation);
        if let Some(slot) = self.slots.get_mut(service) {
            slot.next = at;
        }
        self.queue.push(Reverse((at, generation, key)));
        true
    }

    /// The spec and generation of a scheduled service's check.
    pub(crate) fn spec(&self, service: &str) -> Option<(Arc<str>, Arc<ProbeSpec>, u64)> {
        let (key, slot) = self.slots.get_key_value(service)?;
        Some((key.clone(), slot.spec.clone(), slot.generation))
    }

    /// Stops probing a service; returns whether it was scheduled.
    pub(crate) fn remove(&mut self, service: &str) -> bool {
        self.slots.remove(service).is_some()
    }

    /// Number of scheduled services.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_current(&self, entry: &(Instant, u64, Arc<str>)) -> bool {
        let (due, generation, service) = entry;
        self.slots
            .get(service)
            .is_some_and(|s| s.generation == *generation && s.next == *due)
    }

    /// The next due time, if anything is scheduled.
    pub(crate) fn next_due(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.queue.peek() {
            if self.is_current(top) {
                return Some(top.0);
            }
            self.queue.pop();
        }
        None
    }

    /// Takes every probe due at `now` and schedules each slot's next one, one interval after
    /// its due time. Returns them and how many intervals were skipped because `now` was
    /// already past the next due time too.
    pub(crate) fn pop_due(&mut self, now: Instant) -> (Vec<Due>, u64) {
        let mut due = Vec::new();
        let mut skipped = 0u64;
        while let Some(Reverse(top)) = self.queue.peek() {
            if top.0 > now {
                break;
            }
            let Some(Reverse(entry)) = self.queue.pop() else {
                break;
            };
            if !self.is_current(&entry) {
                continue;
            }
            let (at, generation, service) = entry;
            let Some(slot) = self.slots.get_mut(&service) else {
                continue;
            };
            let every = slot.spec.every;
            let mut next = slot.then.take().unwrap_or(at + every);
            if next <= now {
                let behind = now.duration_since(next).as_nanos() / every.as_nanos().max(1);
                let missed = u32::try_from(behind + 1).unwrap_or(u32::MAX);
                next += every.saturating_mul(missed);
                skipped += u64::from(missed);
            }
            slot.next = next;
            self.queue
                .push(Reverse((next, generation, service.clone())));
            due.push(Due {
                service,
                generation,
                spec: slot.spec.clone(),
                due: at,
                in_flight: slot.in_flight.clone(),
            });
        }
        (due, skipped)
    }
}

/// A small random number generator (SplitMix64) for start jitter; no global state.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// Seeded; `None` picks a random seed.
    pub(crate) fn new(seed: Option<u64>) -> Jitter {
        Jitter(seed.unwrap_or_else(|| RandomState::new().hash_one(std::time::SystemTime::now())))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    fn fraction(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The first two due times of the `index`-th of `count` services scheduled together at
    /// `now` (see the module documentation): (first, the one after it when it is not one
    /// interval later).
    pub(crate) fn first_times(
        &mut self,
        now: Instant,
        every: Duration,
        window: Option<Duration>,
        (index, count): (usize, usize),
    ) -> (Instant, Option<Instant>) {
        let phase = every.mul_f64(self.fraction());
        let Some(window) = window.filter(|w| *w < every) else {
            return (now + phase, None);
        };
        let count = count.max(1) as f64;
        let first = window.mul_f64((index as f64 + self.fraction()) / count);
        let then = if phase > first {
            now + phase
        } else {
            now + phase + every
        };
        (now + first, Some(then))
    }
}

/// The start window of `count` services scheduled together: `within`, widened so that their
/// first probes start at no more than `rate` a second; `None` when there is none.
pub(crate) fn start_window(within: Option<Duration>, rate: u32, count: usize) -> Option<Duration> {
    let within = within?;
    let paced = Duration::from_secs_f64(count as f64 / f64::from(rate.max(1)));
    Some(within.max(paced))
}

/// The result of a probe cut by the hard deadline.
pub(crate) fn deadline_result(deadline: Duration) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::Down,
        duration: deadline,
        facts: Facts::default(),
        failure: Some(Failure::new(
            Reason::Timeout,
            format!(
                "did not finish within its hard deadline of {}",
                humantime::format_duration(deadline)
            ),
        )),
    }
}

/// A probe's hard deadline: its check's timeout and the grace, and for a browser check also
/// the longest it may wait for a page of the shared Chromium first (that wait is not part of
/// its timeout: `iza_probe::BrowserOptions::max_wait`).
fn hard_deadline(check: &Check, grace: Duration, prober: &Prober) -> Duration {
    let wait = match check.target {
        CheckTarget::Browser(_) | CheckTarget::Compare(_) => prober.options().browser.max_wait,
        _ => Duration::ZERO,
    };
    check.timeout + grace + wait
}

/// Runs a probe within a hard deadline; `true` when the deadline cut it.
pub(crate) async fn within_deadline(
    probe: impl Future<Output = ProbeResult>,
    deadline: Duration,
) -> (ProbeResult, bool) {
    match tokio::time::timeout(deadline, probe).await {
        Ok(result) => (result, false),
        Err(_) => (deadline_result(deadline), true),
    }
}

/// What the scheduler is told.
#[derive(Debug)]
pub(crate) enum SchedulerCommand {
    /// Reconcile with a new catalog.
    Reload {
        catalog: Arc<Catalog>,
        diff: Arc<CatalogDiff>,
        generation: u64,
        ack: oneshot::Sender<()>,
    },
    /// Probe this service now unless a probe of it is running or due already.
    ProbeSoon { service: String },
    /// Probe this service now, even when a probe of it is running, and answer what it found
    /// (`None`: the service has no check); the result is processed and recorded like any.
    CheckNow {
        service: String,
        ack: oneshot::Sender<Option<ProbeSummary>>,
    },
    /// Stop scheduling, wait for running probes up to the deadline, abandon the rest; answers
    /// how many were abandoned.
    Stop {
        deadline: Duration,
        ack: oneshot::Sender<usize>,
    },
}

/// Settings the scheduler reads.
#[derive(Debug, Clone)]
pub(crate) struct SchedulerSettings {
    pub(crate) first_probe_within: Option<Duration>,
    pub(crate) first_probe_rate: u32,
    pub(crate) min_interval: Duration,
    pub(crate) deadline_grace: Duration,
    pub(crate) late_after: Duration,
}

/// The task that starts probes; see the module documentation.
pub(crate) struct Scheduler {
    pub(crate) schedule: Schedule,
    pub(crate) jitter: Jitter,
    pub(crate) prober: Arc<Prober>,
    pub(crate) semaphore: Arc<Semaphore>,
    pub(crate) results: mpsc::UnboundedSender<Completed>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) settings: SchedulerSettings,
    pub(crate) probes: JoinSet<()>,
    /// When the checks are shared by lease: the ones this node probes.
    pub(crate) owned: Option<Arc<crate::cluster::leases::Owned>>,
}

impl Scheduler {
    /// Schedules every checked service of a catalog (the start).
    pub(crate) fn schedule_all(&mut self, catalog: &Catalog, generation: u64) {
        self.schedule_batch(catalog, catalog.services.keys(), generation);
    }

    /// Schedules these services of the catalog together, first probes within one start window.
    fn schedule_batch<'a>(
        &mut self,
        catalog: &Catalog,
        ids: impl Iterator<Item = &'a String>,
        generation: u64,
    ) {
        let now = Instant::now();
        let mut checked = Vec::new();
        for id in ids {
            match catalog
                .services
                .get(id)
                .and_then(|s| ProbeSpec::of(s, self.settings.min_interval))
            {
                Some(spec) => checked.push((id, spec)),
                None => {
                    self.schedule.remove(id);
                }
            }
        }
        let count = checked.len();
        let window = start_window(
            self.settings.first_probe_within,
            self.settings.first_probe_rate,
            count,
        );
        for (index, (id, spec)) in checked.into_iter().enumerate() {
            let times = self
                .jitter
                .first_times(now, spec.every, window, (index, count));
            self.schedule
                .insert(Arc::from(id.as_str()), generation, Arc::new(spec), times);
        }
    }

    /// Runs until told to stop (or until the monitor is dropped).
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<SchedulerCommand>) {
        loop {
            let next = self.schedule.next_due();
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(SchedulerCommand::Reload { catalog, diff, generation, ack }) => {
                        self.reload(&catalog, &diff, generation);
                        let _ = ack.send(());
                    }
                    Some(SchedulerCommand::ProbeSoon { service }) => {
                        self.schedule.expedite(&service, Instant::now());
                    }
                    Some(SchedulerCommand::CheckNow { service, ack }) => self.check_now(&service, ack),
                    Some(SchedulerCommand::Stop { deadline, ack }) => {
                        let abandoned = self.stop(deadline).await;
                        let _ = ack.send(abandoned);
                        return;
                    }
                    None => {
                        self.stop(Duration::ZERO).await;
                        return;
                    }
                },
                () = sleep_until(next) => self.fire(Instant::now()),
                Some(_) = self.probes.join_next(), if !self.probes.is_empty() => {}
            }
        }
    }

    fn reload(&mut self, catalog: &Catalog, diff: &CatalogDiff, generation: u64) {
        for id in diff.removed.iter().chain(&diff.changed) {
            self.schedule.remove(id);
        }
        self.schedule_batch(catalog, diff.added.iter().chain(&diff.changed), generation);
    }

    /// Starts every probe due at `now`.
    fn fire(&mut self, now: Instant) {
        let (mut due, skipped) = self.schedule.pop_due(now);
        if let Some(owned) = &self.owned {
            // Another node holds the lease of the rest: their slots keep their rhythm only.
            due.retain(|probe| owned.owns(&probe.service));
        }
        Counters::add(&self.counters.due, due.len() as u64 + skipped);
        Counters::add(&self.counters.skipped, skipped);
        for probe in due {
            if probe.in_flight.swap(true, Ordering::AcqRel) {
                Counters::add(&self.counters.skipped, 1);
                continue;
            }
            Counters::add(&self.counters.in_flight, 1);
            self.probes.spawn(run_probe(
                probe,
                self.prober.clone(),
                self.semaphore.clone(),
                self.results.clone(),
                self.counters.clone(),
                self.settings.clone(),
            ));
        }
    }

    /// Starts one probe of a service outside its schedule; its interval is unchanged.
    fn check_now(&mut self, service: &str, ack: oneshot::Sender<Option<ProbeSummary>>) {
        let Some((service, spec, generation)) = self.schedule.spec(service) else {
            let _ = ack.send(None);
            return;
        };
        let prober = self.prober.clone();
        let semaphore = self.semaphore.clone();
        let results = self.results.clone();
        let counters = self.counters.clone();
        let grace = self.settings.deadline_grace;
        self.probes.spawn(async move {
            let Ok(permit) = semaphore.acquire_owned().await else {
                return;
            };
            Counters::add(&counters.started, 1);
            let started_at = crate::now_millis();
            let deadline = hard_deadline(&spec.check, grace, &prober);
            let (result, cut) =
                within_deadline(prober.probe_in(&spec.check, &spec.context), deadline).await;
            drop(permit);
            if cut {
                Counters::add(&counters.deadline_exceeded, 1);
            }
            Counters::add(&counters.completed, 1);
            let finished_at = crate::now_millis();
            let summary = ProbeSummary::of(&result, started_at, finished_at);
            let _ = results.send(Completed {
                service,
                generation,
                result,
                started_at,
                finished_at,
            });
            let _ = ack.send(Some(summary));
        });
    }

    /// Stops: no new probe gets a slot; running ones get until the deadline.
    async fn stop(&mut self, deadline: Duration) -> usize {
        self.semaphore.close();
        let until = Instant::now() + deadline;
        loop {
            tokio::select! {
                next = self.probes.join_next() => if next.is_none() { break },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        let abandoned = self.probes.len();
        self.probes.shutdown().await;
        abandoned
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One probe: a slot, the probe within its deadline, the result to the processor.
async fn run_probe(
    probe: Due,
    prober: Arc<Prober>,
    semaphore: Arc<Semaphore>,
    results: mpsc::UnboundedSender<Completed>,
    counters: Arc<Counters>,
    settings: SchedulerSettings,
) {
    // Clears the in-flight marks even when the task is aborted at shutdown.
    struct InFlight(Arc<AtomicBool>, Arc<Counters>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
            self.1.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _in_flight = InFlight(probe.in_flight.clone(), counters.clone());
    let Ok(permit) = semaphore.acquire_owned().await else {
        return;
    };
    let lag = Instant::now().saturating_duration_since(probe.due);
    counters.record_lag(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
    if lag > settings.late_after.min(probe.spec.every / 2) {
        Counters::add(&counters.late, 1);
    }
    Counters::add(&counters.started, 1);
    let started_at = crate::now_millis();
    let deadline = hard_deadline(&probe.spec.check, settings.deadline_grace, &prober);
    let (result, cut) = within_deadline(
        prober.probe_in(&probe.spec.check, &probe.spec.context),
        deadline,
    )
    .await;
    drop(permit);
    if cut {
        Counters::add(&counters.deadline_exceeded, 1);
    }
    Counters::add(&counters.completed, 1);
    let _ = results.send(Completed {
        service: probe.service,
        generation: probe.generation,
        result,
        started_at,
        finished_at: crate::now_millis(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(every_ms: u64) -> Arc<ProbeSpec> {
        Arc::new(ProbeSpec {
            check: Check {
                target: iza_catalog::model::CheckTarget::Tcp("127.0.0.1:1".into()),
                method: "GET".into(),
                headers: Default::default(),
                body: None,
                follow_redirects: true,
                verify_tls: true,
                record: "A".into(),
                shell: false,
                every: Duration::from_millis(every_ms),
                timeout: Duration::from_secs(1),
                conditions: vec![],
                failure_threshold: 1,
                success_threshold: 1,
                regions: Vec::new(),
                quorum: 0,
            },
            context: ProbeContext::default(),
            every: Duration::from_millis(every_ms),
        })
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn due_times_follow_the_schedule_not_the_wake_ups() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        schedule.insert("a".into(), 1, spec(100), (start + ms(30), None));
        schedule.insert("b".into(), 1, spec(250), (start + ms(70), None));
        assert_eq!(schedule.next_due(), Some(start + ms(30)));
        // Waking up late (at 45 ms) still schedules `a` at 130 ms, not 145 ms.
        let (due, skipped) = schedule.pop_due(start + ms(45));
        assert_eq!((due.len(), skipped), (1, 0));
        assert_eq!(due[0].due, start + ms(30));
        assert_eq!(schedule.next_due(), Some(start + ms(70)));
        let mut fired: Vec<(String, u64)> = Vec::new();
        // Wake up every 10 ms up to 1 s, a little late each time.
        for tick in 1..=100 {
            let now = start + ms(tick * 10 + 3);
            for d in schedule.pop_due(now).0 {
                fired.push((
                    d.service.to_string(),
                    d.due.duration_since(start).as_millis() as u64,
                ));
            }
        }
        let of = |name: &str| -> Vec<u64> {
            fired
                .iter()
                .filter(|(s, _)| s == name)
                .map(|(_, t)| *t)
                .collect()
        };
        assert_eq!(of("a"), [130, 230, 330, 430, 530, 630, 730, 830, 930]);
        assert_eq!(of("b"), [70, 320, 570, 820]);
    }

    #[test]
    fn a_scheduler_waking_intervals_late_skips_them_and_counts_them() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        schedule.insert("a".into(), 1, spec(100), (start, None));
        // Asleep for 450 ms: the probe due at 0 fires; 100, 200, 300, 400 are skipped.
        let (due, skipped) = schedule.pop_due(start + ms(450));
        assert_eq!((due.len(), skipped), (1, 4));
        assert_eq!(schedule.next_due(), Some(start + ms(500)));
    }

    #[test]
    fn an_expedited_probe_fires_early_once_and_the_interval_continues_from_it() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        schedule.insert(Arc::from("a"), 1, spec(1000), (start + ms(900), None));
        assert!(!schedule.expedite("ghost", start));
        assert!(
            !schedule.expedite("a", start + ms(950)),
            "not later than due"
        );
        assert!(schedule.expedite("a", start + ms(100)));
        assert_eq!(schedule.next_due(), Some(start + ms(100)));
        let (due, _) = schedule.pop_due(start + ms(100));
        assert_eq!(due.len(), 1);
        // The old due time does not fire; the next comes one interval after the early one.
        assert_eq!(schedule.next_due(), Some(start + ms(1100)));
        let (due, _) = schedule.pop_due(start + ms(1000));
        assert!(due.is_empty());
    }

    #[test]
    fn removed_and_replaced_slots_do_not_fire_their_old_times() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        schedule.insert("a".into(), 1, spec(100), (start + ms(10), None));
        schedule.insert("b".into(), 1, spec(100), (start + ms(20), None));
        assert!(schedule.remove("a"));
        schedule.insert("b".into(), 2, spec(100), (start + ms(50), None));
        assert_eq!(schedule.len(), 1);
        assert_eq!(schedule.next_due(), Some(start + ms(50)));
        let (due, _) = schedule.pop_due(start + ms(60));
        assert_eq!(due.len(), 1);
        assert_eq!((&*due[0].service, due[0].generation), ("b", 2));
    }

    #[test]
    fn without_a_start_window_first_probes_spread_over_the_interval() {
        let mut jitter = Jitter::new(Some(7));
        let every = ms(1000);
        let now = Instant::now();
        let delays: Vec<Duration> = (0..1000)
            .map(|i| {
                let (first, then) = jitter.first_times(now, every, None, (i, 1000));
                assert_eq!(then, None);
                first.duration_since(now)
            })
            .collect();
        assert!(delays.iter().all(|d| *d < every));
        // Each tenth of the interval gets some of the thousand first probes.
        for tenth in 0..10 {
            let (low, high) = (ms(tenth * 100), ms(tenth * 100 + 100));
            let count = delays.iter().filter(|d| **d >= low && **d < high).count();
            assert!((50..=150).contains(&count), "tenth {tenth}: {count}");
        }
    }

    #[test]
    fn first_probes_come_within_the_start_window_then_settle_into_the_spread_schedule() {
        let now = Instant::now();
        let mut jitter = Jitter::new(Some(11));
        let every = Duration::from_secs(300);
        let window = start_window(Some(Duration::from_secs(2)), 500, 1000);
        assert_eq!(window, Some(Duration::from_secs(2)));
        let times: Vec<(Instant, Option<Instant>)> = (0..1000)
            .map(|i| jitter.first_times(now, every, window, (i, 1000)))
            .collect();
        for (first, then) in &times {
            assert!(*first < now + Duration::from_secs(2));
            // The second probe comes at the phase, after the first, at most an interval later.
            let then = then.expect("a phase after the start window");
            assert!(then > *first && then <= *first + every);
        }
        // The phases (the steady schedule) spread over the interval: each tenth has some.
        for tenth in 0..10u32 {
            let (low, high) = (every * tenth / 10, every * (tenth + 1) / 10);
            let in_tenth = times
                .iter()
                .filter_map(|(_, then)| *then)
                .map(|t| {
                    let offset = t.duration_since(now);
                    if offset >= every {
                        offset - every
                    } else {
                        offset
                    }
                })
                .filter(|d| *d >= low && *d < high)
                .count();
            assert!((50..=150).contains(&in_tenth), "tenth {tenth}: {in_tenth}");
        }
        // A check whose interval fits in the window just starts at its phase.
        let (first, then) = jitter.first_times(now, ms(500), window, (0, 1));
        assert!(first < now + ms(500) && then.is_none());
        // No window (`first_probe_within = None`): the whole interval.
        assert_eq!(start_window(None, 500, 10), None);
    }

    #[test]
    fn a_large_batch_widens_the_window_to_keep_the_rate() {
        let window = start_window(Some(Duration::from_secs(2)), 500, 10_000);
        assert_eq!(window, Some(Duration::from_secs(20)));
        let now = Instant::now();
        let mut jitter = Jitter::new(Some(3));
        let mut per_second = [0usize; 20];
        for i in 0..10_000 {
            let (first, _) =
                jitter.first_times(now, Duration::from_secs(3600), window, (i, 10_000));
            let second = first.duration_since(now).as_secs() as usize;
            per_second[second] += 1;
        }
        // Laid out evenly: 500 (give or take the one at a boundary) in every second.
        assert!(
            per_second.iter().all(|n| (499..=501).contains(n)),
            "{per_second:?}"
        );
    }

    #[test]
    fn the_second_probe_comes_at_the_phase_and_the_rest_one_interval_apart() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        schedule.insert(
            "a".into(),
            1,
            spec(1000),
            (start + ms(10), Some(start + ms(700))),
        );
        let (due, _) = schedule.pop_due(start + ms(10));
        assert_eq!(due.len(), 1);
        assert_eq!(schedule.next_due(), Some(start + ms(700)));
        let (due, _) = schedule.pop_due(start + ms(700));
        assert_eq!(due.len(), 1);
        assert_eq!(schedule.next_due(), Some(start + ms(1700)));
    }

    #[test]
    fn a_browser_checks_hard_deadline_leaves_room_for_its_wait_for_a_page() {
        let prober = Prober::default();
        let wait = prober.options().browser.max_wait;
        let tcp = spec(1000).check.clone();
        assert_eq!(hard_deadline(&tcp, ms(2000), &prober), ms(3000));
        let mut browser = tcp;
        browser.target = CheckTarget::Browser(iza_catalog::model::BrowserTarget {
            url: "http://127.0.0.1:1/".into(),
            wait_for: None,
            steps: Vec::new(),
        });
        assert_eq!(hard_deadline(&browser, ms(2000), &prober), ms(3000) + wait);
    }

    #[tokio::test]
    async fn the_hard_deadline_cuts_a_probe_that_never_ends() {
        let (result, cut) = within_deadline(std::future::pending(), ms(20)).await;
        assert!(cut);
        assert_eq!(result.outcome, Outcome::Down);
        let failure = result.failure.unwrap();
        assert_eq!(failure.reason, Reason::Timeout);
        assert_eq!(
            failure.message,
            "did not finish within its hard deadline of 20ms"
        );
        let (result, cut) = within_deadline(async { deadline_result(ms(1)) }, ms(1000)).await;
        assert!(!cut);
        assert_eq!(result.duration, ms(1));
    }
}

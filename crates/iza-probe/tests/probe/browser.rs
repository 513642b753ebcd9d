//! Browser checks with the real Chromium (`scripts/browser-deps.sh` installs Debian's
//! `chromium` when it is missing) against pages this test serves: one that renders after a
//! second of JavaScript, one that throws, a blank one, a slow one, a login form, and one that
//! never finishes loading while the test kills Chromium.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use iza_catalog::model::{BrowserTarget, CheckTarget, CompareTarget, Step, WaitFor};
use iza_probe::{BrowserOptions, ProbeContext, ProbeResult, Prober, ProberOptions, Reason};

use crate::support::{Behaviour, Request, Server, check, response, serve};

/// Makes sure Chromium is installed, as the dashboard's browser tests do.
fn chromium() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let program = std::env::var_os(iza_probe::CHROMIUM_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        if program.exists() {
            return;
        }
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/browser-deps.sh");
        let status = Command::new("bash")
            .arg(script)
            .status()
            .expect("bash runs scripts/browser-deps.sh");
        assert!(
            status.success(),
            "scripts/browser-deps.sh failed: browser checks need Chromium"
        );
    });
}

fn html(body: &str) -> Vec<u8> {
    response(200, &[("Content-Type", "text/html; charset=utf-8")], body)
}

fn pages(request: &Request) -> Behaviour {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    match path {
        "/" => Behaviour::Respond(html(
            "<!doctype html><title>Home</title><h1>Hello</h1><p>Welcome to the demo</p>",
        )),
        "/late" => Behaviour::Respond(html(
            "<!doctype html><title>Late</title><body><script>
               setTimeout(() => { const d = document.createElement('div'); d.id = 'app';
                 d.textContent = 'Ready now'; document.body.appendChild(d); }, 1000);
             </script></body>",
        )),
        "/throws" => Behaviour::Respond(html(
            "<!doctype html><title>Broken</title><p>half a page</p>
             <script>console.error('first', 'problem'); console.error('second problem');</script>
             <script src=\"/missing.js\"></script>
             <script>undefinedFunction();</script>",
        )),
        "/blank" => Behaviour::Respond(html("<!doctype html><html><body></body></html>")),
        // A shop page and two replicas: an exact one, and one with another heading and
        // without the contact link.
        "/shop" | "/shop-copy" => Behaviour::Respond(html(SHOP)),
        "/shop-broken" => Behaviour::Respond(html(
            &SHOP
                .replace("Fresh fruit every day", "Old vegetables sometimes")
                .replace("<a href=\"/contact\">Contact us</a>", ""),
        )),
        "/slow" => Behaviour::Respond(html(
            "<!doctype html><title>Slow</title><p>text first</p><img src=\"/slow.png\">",
        )),
        "/slow.png" => {
            Behaviour::RespondAfter(Duration::from_millis(1500), response(404, &[], "no image"))
        }
        "/hang" => Behaviour::Respond(html(
            "<!doctype html><title>Hang</title><img src=\"/never.png\">",
        )),
        "/never.png" => Behaviour::Hang,
        "/favicon.ico" => {
            Behaviour::Respond(response(200, &[("Content-Type", "image/x-icon")], ""))
        }
        "/login" => Behaviour::Respond(html(
            "<!doctype html><title>Sign in</title>
             <form action=\"/welcome\" method=\"get\">
               <input id=\"user\" name=\"user\"><input id=\"pass\" name=\"pass\" type=\"password\">
               <button id=\"go\" type=\"submit\">Sign in</button>
             </form>",
        )),
        "/welcome" if query.contains("user=alice") && query.contains("pass=right-horse") => {
            Behaviour::Respond(html(
                "<!doctype html><title>Account</title><h1>Welcome alice</h1>",
            ))
        }
        // A careless page that shows the password back.
        "/welcome" => Behaviour::Respond(html(&format!(
            "<!doctype html><title>Sign in</title><p class=\"error\">Wrong password ({query})</p>"
        ))),
        _ => Behaviour::Respond(response(404, &[], "not found")),
    }
}

const SHOP: &str = "<!doctype html><title>Shop</title>
<style>body { margin: 0; font: 16px sans-serif } h1 { background: #246; color: white; padding: 40px; margin: 0; font-size: 48px }</style>
<h1>Fresh fruit every day</h1>
<p>Apples, pears and plums from the orchard, picked this morning.</p>
<nav><a href=\"/about\">About</a> <a href=\"/contact\">Contact us</a> <a href=\"https://example.org/\">Partner</a></nav>";

fn browser(url: String, wait_for: Option<&str>, steps: Vec<Step>) -> CheckTarget {
    CheckTarget::Browser(BrowserTarget {
        url,
        wait_for: wait_for.map(WaitFor::parse),
        steps,
    })
}

async fn probe(
    prober: &Prober,
    target: CheckTarget,
    timeout: Duration,
    conditions: &[&str],
) -> ProbeResult {
    prober.probe(&check(target, timeout, conditions)).await
}

fn facts(result: &ProbeResult) -> &iza_probe::BrowserFacts {
    result.facts.browser.as_deref().expect("browser facts")
}

/// One browser test at a time: each starts its own Chromium, and several at once on a small
/// machine would only measure the machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn setup() -> (Server, Prober, tokio::sync::MutexGuard<'static, ()>) {
    let turn = ONE_AT_A_TIME.lock().await;
    chromium();
    (serve(pages).await, Prober::default(), turn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_renders_late_passes_with_wait_for_and_fails_without() {
    let (server, prober, _turn) = setup().await;
    let conditions = ["[TEXT] == pat(*Ready now*)", "[STATUS] == 200"];
    let waited = probe(
        &prober,
        browser(server.url("/late"), Some("#app"), vec![]),
        Duration::from_secs(10),
        &conditions,
    )
    .await;
    assert!(waited.is_up(), "{waited:?}");
    assert_eq!(facts(&waited).title.as_deref(), Some("Late"));

    let hurried = probe(
        &prober,
        browser(server.url("/late"), None, vec![]),
        Duration::from_secs(10),
        &conditions,
    )
    .await;
    assert!(!hurried.is_up(), "{hurried:?}");
    let failure = hurried.failure.as_ref().unwrap();
    assert_eq!(failure.reason, Reason::Condition);
    assert_eq!(
        failure.condition.as_deref(),
        Some("[TEXT] == pat(*Ready now*)")
    );
    // The failure kept a screenshot of the page.
    let shot = &facts(&hurried).screenshots[0];
    assert_eq!(shot.name, "failure");
    assert!(shot.png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // Waiting for an element that never comes names it.
    let missing = probe(
        &prober,
        browser(server.url("/late"), Some("text=Never shown"), vec![]),
        Duration::from_secs(3),
        &[],
    )
    .await;
    let failure = missing.failure.as_ref().unwrap();
    assert_eq!(failure.reason, Reason::Step, "{failure:?}");
    assert!(failure.message.contains("Never shown"), "{failure:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_errors_page_errors_and_failed_requests_are_counted() {
    let (server, prober, _turn) = setup().await;
    let result = probe(
        &prober,
        browser(server.url("/throws"), None, vec![]),
        Duration::from_secs(10),
        &["[PAGE_ERRORS] == 0"],
    )
    .await;
    assert!(!result.is_up(), "{result:?}");
    let seen = facts(&result);
    assert_eq!(seen.page_errors, 1, "{seen:?}");
    assert_eq!(seen.console_errors, 2, "{seen:?}");
    assert_eq!(seen.requests_failed, 1, "{seen:?}");
    assert_eq!(result.facts.status, Some(200));
    assert_eq!(
        result.failure.as_ref().unwrap().message,
        "[PAGE_ERRORS] (1) == 0"
    );
    let console = seen.console.join("\n");
    assert!(
        console.contains("console.error: first problem"),
        "{console}"
    );
    assert!(console.contains("undefinedFunction"), "{console}");
    assert!(console.contains("/missing.js (404)"), "{console}");

    // The same facts pass the conditions that expect them.
    let expected = probe(
        &prober,
        browser(server.url("/throws"), None, vec![]),
        Duration::from_secs(10),
        &[
            "[PAGE_ERRORS] > 0",
            "[CONSOLE_ERRORS] == 2",
            "[REQUESTS_FAILED] == 1",
            "[TITLE] == Broken",
        ],
    )
    .await;
    assert!(expected.is_up(), "{expected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timings_and_vitals_are_reported_and_a_slow_page_fails_its_load_time() {
    let (server, prober, _turn) = setup().await;
    let home = probe(
        &prober,
        browser(server.url("/"), None, vec![]),
        Duration::from_secs(10),
        &[
            "[LOAD_TIME] < 1000",
            "[LCP] > 0",
            "[CLS] == 0",
            "[TTFB] >= 0",
            "[TEXT] == pat(*Welcome*)",
        ],
    )
    .await;
    assert!(home.is_up(), "{home:?}");
    let seen = facts(&home);
    assert!(seen.lcp_ms.is_some() && seen.ttfb_ms.is_some(), "{seen:?}");
    assert!(
        seen.screenshots.is_empty(),
        "a passing check takes no screenshot"
    );

    let slow = probe(
        &prober,
        browser(server.url("/slow"), None, vec![]),
        Duration::from_secs(10),
        &["[LOAD_TIME] < 1000"],
    )
    .await;
    assert!(!slow.is_up(), "{slow:?}");
    let load = facts(&slow).load_time_ms.expect("a load time");
    assert!(load >= 1500.0, "{load}");
    assert_eq!(
        slow.failure.as_ref().unwrap().condition.as_deref(),
        Some("[LOAD_TIME] < 1000")
    );

    let blank = probe(
        &prober,
        browser(server.url("/blank"), None, vec![]),
        Duration::from_secs(10),
        &["len([TEXT]) > 0"],
    )
    .await;
    assert!(!blank.is_up(), "{blank:?}");
    assert_eq!(facts(&blank).lcp_ms, None, "nothing contentful was painted");
    assert_eq!(
        blank.failure.as_ref().unwrap().message,
        "len([TEXT]) (0) > 0"
    );
}

fn login(password: &str) -> Vec<Step> {
    vec![
        Step::Fill {
            selector: "#user".into(),
            value: "alice".into(),
        },
        Step::Fill {
            selector: "#pass".into(),
            value: password.into(),
        },
        Step::Click {
            selector: "#go".into(),
        },
        Step::ExpectText {
            text: "Welcome alice".into(),
        },
        Step::Screenshot {
            name: "account".into(),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_logs_in_and_fails_at_the_right_step_with_a_wrong_password() {
    let (server, prober, _turn) = setup().await;
    let context = |password: &str| ProbeContext {
        cwd: None,
        env: vec![("IZA_TEST_PASSWORD".into(), password.into())],
        ..ProbeContext::default()
    };
    let target = browser(
        server.url("/login"),
        Some("form"),
        login("${IZA_TEST_PASSWORD}"),
    );
    let check = check(target, Duration::from_secs(10), &["[TITLE] == Account"]);

    let good = prober.probe_in(&check, &context("right-horse")).await;
    assert!(good.is_up(), "{good:?}");
    let steps = &facts(&good).steps;
    assert_eq!(steps.len(), 5);
    assert!(steps.iter().all(|s| s.error.is_none()), "{steps:?}");
    assert_eq!(steps[1].step, "fill `#pass`");
    assert_eq!(facts(&good).screenshots[0].name, "account");

    let bad = prober.probe_in(&check, &context("wrong-horse")).await;
    assert!(!bad.is_up(), "{bad:?}");
    let failure = bad.failure.as_ref().unwrap();
    assert_eq!(failure.reason, Reason::Step);
    assert!(
        failure
            .message
            .starts_with("step 4 (expect_text `Welcome alice`) failed"),
        "{failure:?}"
    );
    let steps = &facts(&bad).steps;
    assert_eq!(steps.len(), 4, "stops at the failed step");
    assert!(steps[3].error.is_some());
    // The password is in no part of the result.
    let json = serde_json::to_string(&bad).unwrap();
    assert!(!json.contains("wrong-horse"), "{json}");
    assert!(
        json.contains("Wrong password (user=alice&pass=***)"),
        "{json}"
    );

    // An unset reference fails the fill step and names the variable only.
    let unset = prober.probe_in(&check, &ProbeContext::default()).await;
    let failure = unset.failure.as_ref().unwrap();
    assert!(
        failure.message.starts_with("step 2 (fill `#pass`) failed"),
        "{failure:?}"
    );
    assert!(failure.message.contains("IZA_TEST_PASSWORD"), "{failure:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_killed_during_a_check_is_reported_and_the_next_check_works() {
    let (mut server, prober, _turn) = setup().await;
    let prober = std::sync::Arc::new(prober);
    let running = {
        let prober = prober.clone();
        let url = server.url("/hang");
        tokio::spawn(async move {
            probe(
                &prober,
                browser(url, None, vec![]),
                Duration::from_secs(20),
                &[],
            )
            .await
        })
    };
    // The page is loading once its image is requested.
    loop {
        let request = tokio::time::timeout(Duration::from_secs(20), server.requests.recv())
            .await
            .expect("the page loads")
            .expect("the server runs");
        if request.path == "/never.png" {
            break;
        }
    }
    let pid = prober.browser_pid().await.expect("Chromium runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let killed = running.await.unwrap();
    let failure = killed.failure.as_ref().expect("the check failed");
    assert_eq!(failure.reason, Reason::Browser, "{failure:?}");
    assert!(failure.message.contains("browser closed"), "{failure:?}");

    let next = probe(
        &prober,
        browser(server.url("/"), None, vec![]),
        Duration::from_secs(20),
        &["[TITLE] == Home"],
    )
    .await;
    assert!(next.is_up(), "{next:?}");
    assert_ne!(prober.browser_pid().await, Some(pid), "a new Chromium");
}

#[tokio::test]
async fn without_chromium_a_browser_check_is_unavailable_with_the_install_hint() {
    let prober = Prober::new(ProberOptions {
        browser: BrowserOptions {
            program: PathBuf::from("/nonexistent/chromium"),
            ..BrowserOptions::default()
        },
        ..ProberOptions::default()
    });
    let result = probe(
        &prober,
        browser("http://127.0.0.1:9/".into(), None, vec![]),
        Duration::from_secs(5),
        &[],
    )
    .await;
    let failure = result.failure.as_ref().unwrap();
    assert_eq!(failure.reason, Reason::Unavailable);
    assert!(
        failure.message.contains("scripts/browser-deps.sh"),
        "{failure:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_replica_passes_and_a_changed_one_fails_with_the_diff_image() {
    let (server, prober, _turn) = setup().await;
    let compare = |replica: &str| {
        CheckTarget::Compare(CompareTarget {
            original: server.url("/shop"),
            replica: server.url(replica),
            wait_for: Some(WaitFor::parse("h1")),
        })
    };
    // Without conditions, the defaults: same pixels, same words, no missing link.
    let same = probe(&prober, compare("/shop-copy"), Duration::from_secs(15), &[]).await;
    assert!(same.is_up(), "{same:?}");
    let found = facts(&same).comparison.as_ref().expect("a comparison");
    assert_eq!(found.pixel_diff, 0.0);
    assert_eq!(found.text_similarity, 100.0);
    assert_eq!(found.missing_link_count, 0);
    assert!(facts(&same).screenshots.is_empty(), "kept only on failure");

    let broken = probe(
        &prober,
        compare("/shop-broken"),
        Duration::from_secs(15),
        &[],
    )
    .await;
    assert!(!broken.is_up(), "{broken:?}");
    let found = facts(&broken).comparison.as_ref().expect("a comparison");
    assert!(found.pixel_diff > 1.0, "{found:?}");
    assert!(found.text_similarity < 90.0, "{found:?}");
    assert_eq!(found.missing_links, vec!["/contact".to_owned()]);
    let message = &broken.failure.as_ref().unwrap().message;
    assert!(message.contains("[MISSING_LINKS] (1) == 0"), "{message}");
    let names: Vec<&str> = facts(&broken)
        .screenshots
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["original", "replica", "diff"]);
    for shot in &facts(&broken).screenshots {
        assert!(shot.png.starts_with(b"\x89PNG"), "{} is a PNG", shot.name);
    }

    // Conditions replace the defaults: a tolerant check passes the same broken replica.
    let tolerant = probe(
        &prober,
        compare("/shop-broken"),
        Duration::from_secs(15),
        &[
            "[MISSING_LINKS] <= 1",
            "[TEXT_SIMILARITY] > 50",
            "[PIXEL_DIFF] < 50",
        ],
    )
    .await;
    assert!(tolerant.is_up(), "{tolerant:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_past_its_memory_limit_is_replaced_between_checks() {
    let (server, _, _turn) = setup().await;
    // A limit every Chromium exceeds: each check after the first gets a fresh one.
    let prober = Prober::new(ProberOptions {
        browser: BrowserOptions {
            max_memory: Some(1024 * 1024),
            ..BrowserOptions::default()
        },
        ..ProberOptions::default()
    });
    let home = || browser(server.url("/"), None, vec![]);
    let first = probe(
        &prober,
        home(),
        Duration::from_secs(20),
        &["[TITLE] == Home"],
    )
    .await;
    assert!(first.is_up(), "{first:?}");
    let old = prober.browser_pid().await.expect("Chromium runs");
    assert_eq!(prober.browser_memory_restarts(), 0);
    let second = probe(
        &prober,
        home(),
        Duration::from_secs(20),
        &["[TITLE] == Home"],
    )
    .await;
    assert!(second.is_up(), "{second:?}");
    assert_eq!(prober.browser_memory_restarts(), 1);
    let new = prober.browser_pid().await.expect("Chromium runs");
    assert_ne!(new, old, "a fresh Chromium");
    // The old one, with its renderers, is gone once no check uses it.
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while PathBuf::from(format!("/proc/{old}")).exists() {
        assert!(
            std::time::Instant::now() < give_up,
            "the old Chromium {old} still runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // With the default limit (1 GiB), the same Chromium serves check after check.
    assert_eq!(iza_probe::DEFAULT_MAX_MEMORY, 1024 * 1024 * 1024);
    let kept = Prober::default();
    for _ in 0..2 {
        let result = probe(&kept, home(), Duration::from_secs(20), &[]).await;
        assert!(result.is_up(), "{result:?}");
    }
    assert_eq!(kept.browser_memory_restarts(), 0);
}

/// Polls until the prober's Chromium runs, which happens once a check holds a page.
async fn until_chromium_runs(prober: &Prober) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while prober.browser_pid().await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Chromium did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_busy_page_does_not_count_against_the_timeout_and_is_bounded() {
    let (server, _, _turn) = setup().await;
    let one_page = |max_wait| {
        Prober::new(ProberOptions {
            browser: BrowserOptions {
                max_pages: 1,
                max_wait,
                ..BrowserOptions::default()
            },
            ..ProberOptions::default()
        })
    };
    // A page that never finishes loading holds the only page for its whole 4 s timeout.
    let hang = || browser(server.url("/hang"), None, vec![]);
    let home = || browser(server.url("/"), None, vec![]);

    // Queued behind it, a check with a 3 s timeout waits about 4 s, then passes.
    let prober = one_page(Duration::from_secs(30));
    let (held, queued) = tokio::join!(probe(&prober, hang(), Duration::from_secs(4), &[]), async {
        until_chromium_runs(&prober).await;
        let started = tokio::time::Instant::now();
        let result = probe(
            &prober,
            home(),
            Duration::from_secs(3),
            &["[TITLE] == Home"],
        )
        .await;
        (result, started.elapsed())
    });
    assert!(!held.is_up(), "{held:?}");
    let (queued, waited) = queued;
    assert!(queued.is_up(), "{queued:?}");
    assert!(waited > Duration::from_secs(3), "it waited {waited:?}");
    assert!(queued.duration < Duration::from_secs(3), "{queued:?}");

    // With a wait bound shorter than the hold, the queued check gives up: unavailable, with
    // the reason.
    let prober = one_page(Duration::from_millis(500));
    let (_, queued) = tokio::join!(probe(&prober, hang(), Duration::from_secs(4), &[]), async {
        until_chromium_runs(&prober).await;
        probe(&prober, home(), Duration::from_secs(3), &[]).await
    });
    let failure = queued.failure.as_ref().expect("it failed");
    assert_eq!(failure.reason, Reason::Unavailable, "{failure:?}");
    assert!(
        failure.message.contains("no browser page became free"),
        "{failure:?}"
    );
}

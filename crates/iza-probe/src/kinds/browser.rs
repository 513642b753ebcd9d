//! The `browser` kind: load a page in the prober's shared Chromium, wait for what the check
//! waits for, run the journey's steps, and record what a person would judge: the page's
//! status, its load timings and Web Vitals (from a `PerformanceObserver` installed before any
//! script of the page runs), console errors, uncaught exceptions, failed requests, title and
//! visible text. Each check gets a fresh browser context, disposed of afterwards even when
//! the probe is abandoned at its timeout. On failure a screenshot is taken.
//!
//! Waiting is event-driven: the load event comes from the page's lifecycle events, and an
//! element or text is awaited in the page with a `MutationObserver`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use iza_catalog::model::{BrowserTarget, Check, CompareTarget, Step, WaitFor};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use crate::browser::cdp::{CdpError, Event};
use crate::browser::{Running, Slot};
use crate::compare::{Rgba, missing_links, pixel_diff, text_similarity};
use crate::result::{BrowserFacts, Comparison, Facts, Failure, Reason, Screenshot, StepReport};
use crate::{ProbeContext, Prober};

/// How many console lines a result keeps.
const CONSOLE_LINES: usize = 50;
/// How many characters of one console line are kept.
const LINE_CHARS: usize = 500;

/// Installed before any script of each document: collects LCP and CLS as the page runs.
const VITALS_SCRIPT: &str = r"(() => {
  const v = { lcp: null, cls: 0 };
  Object.defineProperty(window, '__izaVitals', { value: v });
  const lcp = (entries) => {
    for (const e of entries) v.lcp = e.startTime;
    if (v.lcp !== null && v.onlcp) v.onlcp();
  };
  const cls = (entries) => { for (const e of entries) if (!e.hadRecentInput) v.cls += e.value; };
  const observers = [];
  try {
    const o = new PerformanceObserver((list) => lcp(list.getEntries()));
    o.observe({ type: 'largest-contentful-paint', buffered: true });
    observers.push([o, lcp]);
  } catch (e) {}
  try {
    const o = new PerformanceObserver((list) => cls(list.getEntries()));
    o.observe({ type: 'layout-shift', buffered: true });
    observers.push([o, cls]);
  } catch (e) {}
  // Entries recorded but not yet delivered to the callbacks.
  v.flush = () => { for (const [o, f] of observers) f(o.takeRecords()); };
})();";

/// Runs the check once.
pub(crate) async fn probe(
    prober: &Prober,
    slot: Slot,
    target: &BrowserTarget,
    check: &Check,
    context: &ProbeContext,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let started = Instant::now();
    // Stop a little before the probe's own timeout, so that a slow step is reported as such.
    let margin = (check.timeout / 10).min(Duration::from_millis(500));
    let deadline = started + check.timeout.saturating_sub(margin);
    let mut page = Page::open(slot.browser.clone(), prober.options().body_limit).await?;
    // Steps that wait leave time to read the page and take a screenshot of it.
    let reserve = (check.timeout / 5).min(Duration::from_secs(2));
    let outcome = journey(&mut page, target, context, deadline - reserve).await;
    let mut browser = std::mem::take(&mut page.facts);
    if let Ok(collected) = page.collect(deadline).await {
        browser.merge(collected);
    }
    page.drain();
    browser.console_errors = page.counts.console_errors;
    browser.page_errors = page.counts.page_errors;
    browser.requests_failed = page.counts.requests_failed;
    browser.console = std::mem::take(&mut page.console);
    facts.status = page.status;
    facts.connected = page.status.is_some();
    let failed = outcome.is_err()
        || !crate::failed_conditions(
            &check.conditions,
            &Facts {
                browser: Some(Box::new(browser.clone())),
                status: facts.status,
                figures: facts.figures.clone(),
                ..Facts::default()
            },
            started.elapsed(),
        )
        .is_empty();
    if failed && let Ok(png) = page.screenshot().await {
        browser.screenshots.push(Screenshot {
            name: "failure".to_owned(),
            png,
        });
    }
    // What a `fill` step typed never leaves the probe, even when the page shows it back.
    let outcome = match outcome {
        Err(mut failure) if !page.typed.is_empty() => {
            failure.message = mask(&failure.message, &page.typed);
            Err(failure)
        }
        other => other,
    };
    if !page.typed.is_empty() {
        let typed = &page.typed;
        browser.text = browser.text.map(|t| mask(&t, typed));
        browser.title = browser.title.map(|t| mask(&t, typed));
        for line in &mut browser.console {
            *line = mask(line, typed);
        }
        for step in &mut browser.steps {
            step.error = step.error.take().map(|e| mask(&e, typed));
        }
    }
    facts.browser = Some(Box::new(browser));
    page.close();
    outcome
}

/// How many missing links a comparison lists (all are counted).
const MISSING_LINKS_LISTED: usize = 20;

/// Runs a comparison once: renders the original, then the replica, in fresh contexts at the
/// same viewport, and compares their screenshots, texts and links (`crate::compare`). The
/// facts other than the comparison's are the replica's; a failed comparison keeps both
/// screenshots and the diff image.
pub(crate) async fn compare(
    prober: &Prober,
    slot: Slot,
    target: &CompareTarget,
    check: &Check,
    facts: &mut Facts,
) -> Result<(), Failure> {
    let started = Instant::now();
    let margin = (check.timeout / 10).min(Duration::from_millis(500));
    let deadline = started + check.timeout.saturating_sub(margin);
    let limit = prober.options().body_limit;
    let wait_for = target.wait_for.as_ref();
    let halfway = started + deadline.saturating_duration_since(started) / 2;
    let named = |which: &str| {
        let which = which.to_owned();
        move |mut failure: Failure| {
            failure.message = format!("the {which}: {}", failure.message);
            failure
        }
    };
    let original = render(
        slot.browser.clone(),
        &target.original,
        wait_for,
        limit,
        halfway,
    )
    .await
    .map_err(named("original"))?;
    let replica = render(
        slot.browser.clone(),
        &target.replica,
        wait_for,
        limit,
        deadline,
    )
    .await
    .map_err(named("replica"))?;
    drop(slot);
    facts.status = replica.status;
    facts.connected = true;
    let (original_png, replica_png) = (original.png.clone(), replica.png.clone());
    let diffed = tokio::task::spawn_blocking(move || -> Result<(f64, Vec<u8>), String> {
        let diff = pixel_diff(
            &Rgba::decode_png(&original_png)?,
            &Rgba::decode_png(&replica_png)?,
        );
        Ok((diff.percent, diff.image.encode_png()?))
    })
    .await
    .map_err(|e| Failure::new(Reason::Browser, format!("the comparison failed: {e}")))?
    .map_err(|e| {
        Failure::new(
            Reason::Browser,
            format!("cannot compare the screenshots: {e}"),
        )
    })?;
    let (pixel_percent, diff_png) = diffed;
    let missing = missing_links(
        &original.href,
        &original.links,
        &replica.href,
        &replica.links,
    );
    let mut browser = replica.facts;
    let mut console: Vec<String> = original
        .facts
        .console
        .iter()
        .map(|l| format!("original: {l}"))
        .chain(browser.console.iter().map(|l| format!("replica: {l}")))
        .collect();
    if console.len() > CONSOLE_LINES {
        console.drain(..console.len() - CONSOLE_LINES);
    }
    browser.console = console;
    browser.comparison = Some(Comparison {
        pixel_diff: pixel_percent,
        text_similarity: text_similarity(
            original.facts.text.as_deref().unwrap_or_default(),
            browser.text.as_deref().unwrap_or_default(),
        ),
        missing_link_count: u32::try_from(missing.len()).unwrap_or(u32::MAX),
        missing_links: missing.into_iter().take(MISSING_LINKS_LISTED).collect(),
        original_status: original.status,
    });
    facts.browser = Some(Box::new(browser));
    if crate::verdict(check, facts, started.elapsed(), None).is_some()
        && let Some(browser) = facts.browser.as_deref_mut()
    {
        for (name, png) in [
            ("original", original.png),
            ("replica", replica.png),
            ("diff", diff_png),
        ] {
            browser.screenshots.push(Screenshot {
                name: name.to_owned(),
                png,
            });
        }
    }
    Ok(())
}

/// One page of a comparison, as rendered.
struct Rendered {
    /// The page's URL after redirects (what its links are relative to).
    href: String,
    status: Option<u16>,
    facts: BrowserFacts,
    /// Every `a[href]` target, as absolute URLs.
    links: Vec<String>,
    png: Vec<u8>,
}

/// Loads `url` in a fresh context, waits for what the comparison waits for, and reads the
/// page's facts, links and screenshot.
async fn render(
    browser: Arc<Running>,
    url: &str,
    wait_for: Option<&WaitFor>,
    text_limit: usize,
    deadline: Instant,
) -> Result<Rendered, Failure> {
    let mut page = Page::open(browser, text_limit).await?;
    page.goto(url, deadline).await?;
    if let Some(wait_for) = wait_for {
        page.wait_for(wait_for, deadline)
            .await
            .map_err(|e| Failure::new(Reason::Step, e))?;
    }
    let mut facts = std::mem::take(&mut page.facts);
    if let Ok(collected) = page.collect(deadline).await {
        facts.merge(collected);
    }
    let found = page
        .evaluate(
            "({ href: location.href, links: Array.from(document.querySelectorAll('a[href]'), (a) => a.href) })",
        )
        .await
        .map_err(|e| Failure::new(Reason::Browser, format!("cannot read the links: {e}")))?;
    let png = page
        .screenshot()
        .await
        .map_err(|e| Failure::new(Reason::Browser, e))?;
    page.drain();
    facts.console_errors = page.counts.console_errors;
    facts.page_errors = page.counts.page_errors;
    facts.requests_failed = page.counts.requests_failed;
    facts.console = std::mem::take(&mut page.console);
    let status = page.status;
    page.close();
    Ok(Rendered {
        href: found["href"].as_str().unwrap_or(url).to_owned(),
        status,
        facts,
        links: found["links"]
            .as_array()
            .map(|links| {
                links
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        png,
    })
}

/// `text` with every typed value shown as `***`.
fn mask(text: &str, typed: &[String]) -> String {
    typed.iter().fold(text.to_owned(), |text, value| {
        text.replace(value.as_str(), "***")
    })
}

async fn journey(
    page: &mut Page,
    target: &BrowserTarget,
    context: &ProbeContext,
    deadline: Instant,
) -> Result<(), Failure> {
    page.goto(&target.url, deadline).await?;
    if let Some(wait_for) = &target.wait_for
        && let Err(error) = page.wait_for(wait_for, deadline).await
    {
        return Err(Failure::new(Reason::Step, error));
    }
    for (i, step) in target.steps.iter().enumerate() {
        let started = Instant::now();
        let result = page.step(step, context, deadline).await;
        page.facts.steps.push(StepReport {
            step: step.to_string(),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            error: result.as_ref().err().cloned(),
        });
        if let Err(error) = result {
            return Err(Failure::new(
                Reason::Step,
                format!("step {} ({step}) failed: {error}", i + 1),
            ));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Counts {
    console_errors: u32,
    page_errors: u32,
    requests_failed: u32,
}

/// One page in a fresh browser context, and what its events said so far.
struct Page {
    browser: Arc<Running>,
    context_id: String,
    target_id: String,
    session: String,
    events: mpsc::UnboundedReceiver<Event>,
    text_limit: usize,
    /// The loader of the navigation under way, and whether its load event fired.
    loader: Option<String>,
    loaded: bool,
    crashed: bool,
    status: Option<u16>,
    counts: Counts,
    console: Vec<String>,
    urls: HashMap<String, String>,
    facts: BrowserFacts,
    /// The values `fill` steps typed from `${NAME}` references (at least 3 characters),
    /// masked in every fact.
    typed: Vec<String>,
    closed: bool,
}

/// What the page's collect script returns.
#[derive(Default)]
struct Collected {
    title: Option<String>,
    text: Option<String>,
    load: Option<f64>,
    ttfb: Option<f64>,
    lcp: Option<f64>,
    cls: Option<f64>,
}

impl BrowserFacts {
    fn merge(&mut self, c: Collected) {
        self.title = c.title;
        self.text = c.text;
        self.load_time_ms = c.load;
        self.ttfb_ms = c.ttfb;
        self.lcp_ms = c.lcp;
        self.cls = c.cls;
    }
}

fn browser_failure(error: CdpError) -> Failure {
    match error {
        CdpError::Closed => Failure::new(
            Reason::Browser,
            "the browser closed during the check (it exited or crashed)",
        ),
        CdpError::Protocol(message) => {
            Failure::new(Reason::Browser, format!("the browser refused: {message}"))
        }
    }
}

impl Page {
    async fn open(browser: Arc<Running>, text_limit: usize) -> Result<Page, Failure> {
        let c = &browser.connection;
        let created = c
            .call(
                None,
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true }),
            )
            .await
            .map_err(browser_failure)?;
        let context_id = text(&created["browserContextId"]);
        let mut page = Page {
            browser: browser.clone(),
            context_id,
            target_id: String::new(),
            session: String::new(),
            events: mpsc::unbounded_channel().1,
            text_limit,
            loader: None,
            loaded: false,
            crashed: false,
            status: None,
            counts: Counts::default(),
            console: Vec::new(),
            urls: HashMap::new(),
            facts: BrowserFacts::default(),
            typed: Vec::new(),
            closed: false,
        };
        let target = c
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": page.context_id }),
            )
            .await
            .map_err(browser_failure)?;
        page.target_id = text(&target["targetId"]);
        let attached = c
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": page.target_id, "flatten": true }),
            )
            .await
            .map_err(browser_failure)?;
        page.session = text(&attached["sessionId"]);
        page.events = c.subscribe(&page.session);
        for (method, params) in [
            ("Page.enable", json!({})),
            ("Page.setLifecycleEventsEnabled", json!({ "enabled": true })),
            ("Runtime.enable", json!({})),
            ("Network.enable", json!({})),
            ("Inspector.enable", json!({})),
            (
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": VITALS_SCRIPT }),
            ),
            // A page in the background paints no frames, and reports no LCP.
            ("Page.bringToFront", json!({})),
            (
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false }),
            ),
        ] {
            page.call(method, params).await.map_err(browser_failure)?;
        }
        Ok(page)
    }

    async fn call(&self, method: &str, params: Json) -> Result<Json, CdpError> {
        self.browser
            .connection
            .call(Some(&self.session), method, params)
            .await
    }

    /// Reads the events that arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.absorb(event);
        }
    }

    /// Waits for events until `done` holds or the deadline passes; false at the deadline.
    async fn until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&Page) -> bool,
    ) -> Result<bool, CdpError> {
        self.drain();
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.crashed {
                return Err(CdpError::Protocol("the page crashed".to_owned()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => self.absorb(event),
                Ok(None) => return Err(CdpError::Closed),
                Err(_) => return Ok(done(self)),
            }
        }
    }

    fn absorb(&mut self, event: Event) {
        let p = &event.params;
        match event.method.as_str() {
            "Page.lifecycleEvent"
                if p["name"] == "load"
                    && p["frameId"] == self.target_id.as_str()
                    && self.loader.as_deref().is_some_and(|l| p["loaderId"] == l) =>
            {
                self.loaded = true;
            }
            "Network.requestWillBeSent" => {
                if let (Some(id), Some(url)) =
                    (p["requestId"].as_str(), p["request"]["url"].as_str())
                {
                    self.urls.insert(id.to_owned(), url.to_owned());
                }
            }
            "Network.responseReceived" => {
                let status = p["response"]["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok());
                if p["type"] == "Document" && p["frameId"] == self.target_id.as_str() {
                    self.status = status;
                }
                if let Some(status) = status.filter(|s| *s >= 400) {
                    self.counts.requests_failed += 1;
                    let url = p["response"]["url"].as_str().unwrap_or_default();
                    self.line(format!("request failed: {url} ({status})"));
                }
            }
            "Network.loadingFailed" if p["canceled"] != true => {
                self.counts.requests_failed += 1;
                let url = p["requestId"]
                    .as_str()
                    .and_then(|id| self.urls.get(id))
                    .cloned()
                    .unwrap_or_default();
                let error = p["errorText"].as_str().unwrap_or("failed");
                self.line(format!("request failed: {url} ({error})"));
            }
            "Runtime.consoleAPICalled" => {
                let kind = p["type"].as_str().unwrap_or("log");
                if matches!(kind, "error" | "assert") {
                    self.counts.console_errors += 1;
                }
                let args: Vec<String> = p["args"]
                    .as_array()
                    .map(|args| args.iter().map(remote_text).collect())
                    .unwrap_or_default();
                self.line(format!("console.{kind}: {}", args.join(" ")));
            }
            "Runtime.exceptionThrown" => {
                self.counts.page_errors += 1;
                let details = &p["exceptionDetails"];
                let message = details["exception"]["description"]
                    .as_str()
                    .or_else(|| details["text"].as_str())
                    .unwrap_or("an exception");
                let first = message.lines().next().unwrap_or_default().to_owned();
                self.line(format!("uncaught: {first}"));
            }
            "Inspector.targetCrashed" => self.crashed = true,
            _ => {}
        }
    }

    fn line(&mut self, line: String) {
        let line = if line.chars().count() > LINE_CHARS {
            let cut: String = line.chars().take(LINE_CHARS).collect();
            format!("{cut}…")
        } else {
            line
        };
        if self.console.len() == CONSOLE_LINES {
            self.console.remove(0);
        }
        self.console.push(line);
    }

    /// Loads `url` and waits for its load event.
    async fn goto(&mut self, url: &str, deadline: Instant) -> Result<(), Failure> {
        self.drain();
        self.loaded = false;
        let navigated = self
            .call("Page.navigate", json!({ "url": url }))
            .await
            .map_err(browser_failure)?;
        if let Some(error) = navigated["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(Failure::new(
                Reason::Connect,
                format!("cannot load `{url}`: {error}"),
            ));
        }
        self.loader = navigated["loaderId"].as_str().map(str::to_owned);
        match self.until(deadline, |page| page.loaded).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::new(
                Reason::Timeout,
                format!("`{url}` did not finish loading (no load event) in time"),
            )),
            Err(CdpError::Protocol(message)) => Err(Failure::new(Reason::Browser, message)),
            Err(e) => Err(browser_failure(e)),
        }
    }

    /// Evaluates an expression in the page (awaiting a promise), with its value as JSON.
    async fn evaluate(&self, expression: &str) -> Result<Json, String> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(details) = answer.get("exceptionDetails") {
            let message = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("the script threw");
            return Err(message.lines().next().unwrap_or_default().to_owned());
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Waits in the page until the element or text is there; the error says what is missing.
    async fn wait_for(&mut self, what: &WaitFor, deadline: Instant) -> Result<(), String> {
        let (selector, text) = match what {
            WaitFor::Selector(s) => (Json::String(s.clone()), Json::Null),
            WaitFor::Text(t) => (Json::Null, Json::String(t.clone())),
        };
        let started = Instant::now();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let expression = format!(
                "((sel, text, ms) => new Promise((resolve) => {{
                   const found = () => sel !== null
                     ? document.querySelector(sel) !== null
                     : (document.body !== null && document.body.innerText.includes(text));
                   if (found()) {{ resolve(true); return; }}
                   let timer;
                   const obs = new MutationObserver(() => {{
                     if (found()) {{ obs.disconnect(); clearTimeout(timer); resolve(true); }}
                   }});
                   obs.observe(document, {{ subtree: true, childList: true, characterData: true, attributes: true }});
                   timer = setTimeout(() => {{ obs.disconnect(); resolve(found()); }}, ms);
                 }}))({selector}, {text}, {})",
                left.as_millis()
            );
            match self.evaluate(&expression).await {
                Ok(Json::Bool(true)) => return Ok(()),
                Ok(_) => {
                    let waited = humantime::format_duration(Duration::from_millis(
                        started.elapsed().as_millis() as u64,
                    ));
                    return Err(match what {
                        WaitFor::Selector(s) => format!("no element matches `{s}` after {waited}"),
                        WaitFor::Text(t) => format!("the page does not show `{t}` after {waited}"),
                    });
                }
                // A navigation replaced the document the script ran in: wait in the new one.
                Err(e) if is_navigation(&e) && Instant::now() < deadline => {
                    self.drain();
                }
                Err(e) if e.contains("is not a valid selector") => {
                    return Err(format!("{what} is not a valid CSS selector: {e}"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn step(
        &mut self,
        step: &Step,
        context: &ProbeContext,
        deadline: Instant,
    ) -> Result<(), String> {
        match step {
            Step::Goto { url } => self.goto(url, deadline).await.map_err(|f| f.message),
            Step::Click { selector } => {
                self.wait_for(&WaitFor::Selector(selector.clone()), deadline)
                    .await?;
                let at = self
                    .evaluate(&format!(
                        "(() => {{ const el = document.querySelector({0});
                           el.scrollIntoView({{ block: 'center', inline: 'center' }});
                           const r = el.getBoundingClientRect();
                           return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
                        Json::String(selector.clone())
                    ))
                    .await?;
                let (x, y) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
                for kind in ["mousePressed", "mouseReleased"] {
                    self.call(
                        "Input.dispatchMouseEvent",
                        json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Step::Fill { selector, value } => {
                let written = value;
                let value = resolve(written, context)?;
                if written.contains("${")
                    && value.chars().count() >= 3
                    && !self.typed.contains(&value)
                {
                    self.typed.push(value.clone());
                }
                self.wait_for(&WaitFor::Selector(selector.clone()), deadline)
                    .await?;
                self.evaluate(&format!(
                    "(() => {{ const el = document.querySelector({0}); el.focus();
                       if ('value' in el) el.value = ''; return true; }})()",
                    Json::String(selector.clone())
                ))
                .await?;
                self.call("Input.insertText", json!({ "text": value }))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
            Step::Press { key } => self.press(key).await,
            Step::WaitFor { target } => self.wait_for(target, deadline).await,
            Step::ExpectText { text } => {
                self.wait_for(&WaitFor::Text(text.clone()), deadline).await
            }
            Step::Screenshot { name } => {
                let png = self.screenshot().await?;
                self.facts.screenshots.push(Screenshot {
                    name: name.clone(),
                    png,
                });
                Ok(())
            }
        }
    }

    async fn press(&self, key: &str) -> Result<(), String> {
        let (code, text, virtual_key) = match key {
            "Enter" => ("Enter", "\r", 13),
            "Tab" => ("Tab", "", 9),
            "Escape" => ("Escape", "", 27),
            "Backspace" => ("Backspace", "", 8),
            "Space" | " " => ("Space", " ", 32),
            "ArrowDown" => ("ArrowDown", "", 40),
            "ArrowUp" => ("ArrowUp", "", 38),
            other if other.chars().count() == 1 => ("", other, 0),
            other => return Err(format!("`{other}` is not a key this check knows")),
        };
        let key = if key == "Space" { " " } else { key };
        let mut down = json!({ "type": if text.is_empty() { "rawKeyDown" } else { "keyDown" },
            "key": key, "code": code, "windowsVirtualKeyCode": virtual_key });
        if !text.is_empty() {
            down["text"] = Json::String(text.to_owned());
        }
        self.call("Input.dispatchKeyEvent", down)
            .await
            .map_err(|e| e.to_string())?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({ "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": virtual_key }),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Title, text and timings, read in the page after the next frame was painted.
    async fn collect(&mut self, deadline: Instant) -> Result<Collected, String> {
        if Instant::now() >= deadline {
            return Err("no time left".to_owned());
        }
        let expression = format!(
            "(async () => {{
               await new Promise((r) => {{ requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 1000); }});
               const n = performance.getEntriesByType('navigation')[0];
               const v = window.__izaVitals || {{}};
               if (v.flush) v.flush();
               // LCP is reported once the frame was presented: wait for it a little, longer
               // when something contentful was painted already.
               if (v.flush && v.lcp === null) {{
                 const painted = performance.getEntriesByName('first-contentful-paint').length > 0;
                 await new Promise((r) => {{ v.onlcp = r; setTimeout(r, painted ? 1000 : 300); }});
               }}
               const text = document.body ? document.body.innerText : '';
               return {{
                 title: document.title,
                 text: text.length > {limit} ? text.slice(0, {limit}) : text,
                 load: n && n.loadEventStart > 0 ? n.loadEventStart : null,
                 ttfb: n ? n.responseStart : null,
                 lcp: v.lcp ?? null,
                 cls: v.cls ?? null,
               }};
             }})()",
            limit = self.text_limit
        );
        let left = deadline.saturating_duration_since(Instant::now());
        let value = tokio::time::timeout(left, self.evaluate(&expression))
            .await
            .map_err(|_| "no time left".to_owned())??;
        Ok(Collected {
            title: value["title"].as_str().map(str::to_owned),
            text: value["text"].as_str().map(str::to_owned),
            load: value["load"].as_f64(),
            ttfb: value["ttfb"].as_f64(),
            lcp: value["lcp"].as_f64(),
            cls: value["cls"].as_f64(),
        })
    }

    async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let answer = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await
            .map_err(|e| e.to_string())?;
        base64::engine::general_purpose::STANDARD
            .decode(answer["data"].as_str().unwrap_or_default())
            .map_err(|e| format!("the screenshot is not base64: {e}"))
    }

    /// Disposes of the page's browser context (and the page with it).
    fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let connection = &self.browser.connection;
        connection.unsubscribe(&self.session);
        if !self.context_id.is_empty() {
            connection.send_and_forget(
                "Target.disposeBrowserContext",
                json!({ "browserContextId": self.context_id }),
            );
        }
    }
}

impl Drop for Page {
    /// A probe abandoned at its timeout still closes its page.
    fn drop(&mut self) {
        self.close();
    }
}

fn text(value: &Json) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// A console argument as text: its value, or the description of an object.
fn remote_text(arg: &Json) -> String {
    match &arg["value"] {
        Json::String(s) => s.clone(),
        Json::Null => arg["description"]
            .as_str()
            .or_else(|| arg["type"].as_str())
            .unwrap_or_default()
            .to_owned(),
        other => other.to_string(),
    }
}

fn is_navigation(error: &str) -> bool {
    error.contains("Execution context was destroyed")
        || error.contains("Cannot find context")
        || error.contains("navigated or closed")
}

/// The text a `fill` step types: `${NAME}` references read from the service's `env`, then
/// from the environment. The error names the variable, never a value.
fn resolve(value: &str, context: &ProbeContext) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        let name = &after[..close];
        let found = context
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok());
        match found {
            Some(v) => out.push_str(&v),
            None => return Err(format!("`${{{name}}}` is not set in the environment")),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_values_read_references_from_the_service_env_and_name_missing_ones() {
        let context = ProbeContext {
            cwd: None,
            env: vec![("IZA_TEST_SECRET".to_owned(), "s3cret".to_owned())],
            service: None,
        };
        assert_eq!(resolve("plain", &context).unwrap(), "plain");
        assert_eq!(
            resolve("a-${IZA_TEST_SECRET}-b", &context).unwrap(),
            "a-s3cret-b"
        );
        let err = resolve("${IZA_TEST_SURELY_UNSET_VAR}", &context).unwrap_err();
        assert!(err.contains("IZA_TEST_SURELY_UNSET_VAR"), "{err}");
        assert_eq!(resolve("${open", &context).unwrap(), "${open");
    }
}

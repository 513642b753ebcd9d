// Browser tests of the IZA OS dashboard, in headless Chromium (Debian's `chromium`) through
// playwright-core, against a running `iza serve`. Run by crates/iza/tests/dashboard.rs, which
// starts the services, the server and a control endpoint that takes a service down:
//
//   node dashboard.test.mjs --base http://127.0.0.1:PORT --control http://127.0.0.1:PORT2 \
//     --nodes 6 --edges 6 --down db --impacted api,web,worker --interval-ms 1000 \
//     --search web --process docs --token TOKEN --screenshots DIR \
//     --chain runner,keeper,steward --ok-task runner/ping --failing-task runner/fail \
//     --run-now runner/hello --run-now-output 'hello from the dashboard' --slow-task runner/slow \
//     --agents-service db
//
// The options from `--chain` on test the Execution page and are optional (without them that
// part is skipped): `--chain` is the reporting line from the owner of `--failing-task` (a
// task that fails every time) up to tier 1; `--ok-task` succeeds on a short schedule;
// `--run-now` is an on-demand task printing `--run-now-output`; `--slow-task` an on-demand
// task that runs for several seconds; `--agents-service` a service those agents watch.
// Exits 0 when every check passes, 1 otherwise (the failing check is printed, and a
// screenshot `failure.png` is left in DIR). Stops by itself within --timeout-ms.

import { chromium } from 'playwright-core';
import { mkdirSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const need = (name) => {
  if (args[name] == null) {
    console.error(`error: missing \`--${name}\``);
    process.exit(2);
  }
  return args[name];
};
const base = need('base').replace(/\/$/, '');
const control = need('control').replace(/\/$/, '');
const expectNodes = Number(need('nodes'));
const expectEdges = Number(need('edges'));
const downId = need('down');
const impacted = need('impacted').split(',').filter(Boolean);
const intervalMs = Number(args['interval-ms'] ?? 1000);
const searchFor = args.search ?? impacted[0];
const processId = args.process;
const token = args.token ?? '';
const shots = args.screenshots ?? 'screenshots';
const executablePath = args.chromium ?? process.env.IZA_CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(args['timeout-ms'] ?? 120000);
const chain = (args.chain ?? '').split(',').filter(Boolean);
const okTask = args['ok-task'];
const failingTask = args['failing-task'];
const runNowTask = args['run-now'];
const runNowOutput = args['run-now-output'] ?? '';
const slowTask = args['slow-task'];
const agentsService = args['agents-service'];
mkdirSync(shots, { recursive: true });
rmSync(join(shots, 'failure.png'), { force: true });

if (!existsSync(executablePath)) {
  console.error(`error: no Chromium at \`${executablePath}\`\nhint: run scripts/browser-deps.sh`);
  process.exit(2);
}

const consoleErrors = [];
let watchingConsole = true;
let browser;
let page;
let passed = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
  passed += 1;
  console.log(`ok ${passed} - ${message}`);
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

function watch(p) {
  p.on('console', (msg) => {
    if (watchingConsole && msg.type() === 'error') consoleErrors.push(`${p.url()}: ${msg.text()}`);
  });
  p.on('pageerror', (error) => consoleErrors.push(`${p.url()}: uncaught ${error.message}`));
}

async function open(hash, ready) {
  await page.goto(`${base}/${hash}`, { waitUntil: 'load' });
  await page.waitForSelector(ready, { timeout: 15000 });
  // Wait for the live stream, so the statuses are painted.
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15000 });
}

const PAGES = [
  ['overview', '#/', '#group-health li'],
  ['graph', '#/graph', '#graph-box[data-rendered="true"]'],
  ['services', '#/services', '#service-rows tr'],
  ['service', '#/services/__DOWN__', '#recent-results, #service-check'],
  ['ports', '#/ports', '#port-table tbody tr'],
  ['events', '#/events', '#event-list li'],
  // Needs a server with the agents' routes: with `--chain`.
  ...(chain.length ? [['execution', '#/execution', '#task-table']] : []),
];

async function main() {
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  page = await context.newPage();
  watch(page);

  // Every page loads, in both themes, with no console error.
  for (const scheme of ['dark', 'light']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [name, hash, ready] of PAGES) {
      await open(hash.replace('__DOWN__', encodeURIComponent(downId)), ready);
      await shot(`${name}-${scheme}`);
      check(consoleErrors.length === 0, `${name} (${scheme}) loads with no console error ${consoleErrors.join('; ')}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'dark' });

  // A service's check reads as written in the manifest, with only the keys of its kind.
  await open(`#/services/${encodeURIComponent(downId)}`, '#service-check');
  const checkText = await page.textContent('#service-check');
  check(checkText.includes('[STATUS] == 200') && !checkText.includes('[object') && !/record/.test(checkText),
    `the check shows its conditions as written and no key of another kind ("${checkText.replace(/\s+/g, ' ').slice(0, 120)}")`);

  // The graph: one node per service, one line per edge, every checked service up.
  await open('#/graph', '#graph-box[data-rendered="true"]');
  const nodes = await page.locator('#graph-box .node').count();
  const edges = await page.locator('#graph-box .graph-edges path').count();
  check(nodes === expectNodes, `the graph shows ${expectNodes} nodes (found ${nodes})`);
  check(edges === expectEdges, `the graph shows ${expectEdges} edges (found ${edges})`);
  const dependsEdges = await page.locator('#graph-box .graph-edges path.e-depends').count();
  const flowEdges = await page.locator('#graph-box .graph-edges path.e-connects').count();
  check(dependsEdges > 0 && flowEdges > 0 && dependsEdges + flowEdges === edges,
    `dependency (${dependsEdges}) and data-flow (${flowEdges}) edges are drawn apart`);
  await page.waitForSelector(`.node[data-id="${downId}"][data-status="up"]`, { timeout: 15000 });
  check(true, `${downId} is up before the outage`);

  // Search finds a service, centres and selects it.
  await page.fill('#graph-search', searchFor);
  await page.press('#graph-search', 'Enter');
  await page.waitForSelector(`.node.selected[data-id="${searchFor}"]`, { timeout: 5000 });
  const searched = await page.textContent('#graph-details');
  check(searched.includes(searchFor), `the search finds ${searchFor} and opens its details`);
  const matches = await page.locator('.node.match').count();
  check(matches >= 1, `the search highlights ${matches} node(s)`);
  await page.fill('#graph-search', '');

  // Clicking a node opens its details (after fitting the graph in view again).
  await page.click('button[aria-label^="Fit the graph"]');
  await page.click(`.node[data-id="${downId}"] circle.body`);
  await page.waitForSelector(`.node.selected[data-id="${downId}"]`, { timeout: 5000 });
  const details = await page.textContent('#graph-details');
  check(details.includes(downId) && details.includes('Needed by'), `clicking ${downId} opens its details`);
  await shot('graph-selected');

  // Keyboard: a focused node opens with Enter.
  await page.focus(`.node[data-id="${impacted[0]}"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.node.selected[data-id="${impacted[0]}"]`, { timeout: 5000 });
  check(true, `Enter on the focused node ${impacted[0]} selects it`);
  await page.keyboard.press('Escape');

  // Take the service down: it turns down, its dependents impacted, without a reload.
  await page.evaluate(() => { window.__noReload = true; });
  const started = Date.now();
  const answer = await fetch(`${control}/down/${encodeURIComponent(downId)}`, { method: 'POST' });
  check(answer.ok, `the test stopped ${downId}'s server`);
  // One check interval, plus a second for the probe, the stream and the paint.
  const budget = intervalMs + 1000;
  await page.waitForSelector(`.node[data-id="${downId}"][data-status="down"]`, { timeout: budget + 10000 });
  const tookDown = Date.now() - started;
  check(tookDown <= budget, `${downId} shows down after ${tookDown} ms (within one check interval, ${intervalMs} ms, plus 1 s)`);
  for (const id of impacted) {
    await page.waitForSelector(`.node[data-id="${id}"][data-status="impacted"]`, { timeout: 5000 });
  }
  check(await page.evaluate(() => window.__noReload === true), 'the page was not reloaded');
  check(true, `its dependents ${impacted.join(', ')} show impacted`);
  const rootMarked = await page.locator(`.node.root[data-id="${downId}"]`).count();
  check(rootMarked === 1, `${downId} is marked as the root cause`);
  const label = await page.getAttribute(`.node[data-id="${impacted[0]}"]`, 'aria-label');
  check(label.includes(`impacted by ${downId}`), `screen readers hear "${label}"`);
  await shot('graph-outage-dark');

  // The table and the overview follow too.
  await page.click('a[data-nav="services"]');
  await page.waitForSelector(`#service-rows tr[data-id="${downId}"][data-status="down"]`, { timeout: 5000 });
  check(true, 'the services table shows the outage');
  await shot('services-outage-dark');
  await page.click('a[data-nav="overview"]');
  await page.waitForSelector('.card.st-down[data-status="down"] .value', { timeout: 5000 });
  const downCount = await page.textContent('.card[data-status="down"] .value');
  check(Number(downCount) >= 1, `the overview counts ${downCount} down`);
  await shot('overview-outage-dark');

  // Sorting the table by a column header.
  await page.click('a[data-nav="services"]');
  await page.waitForSelector('#service-rows tr');
  await page.click('#service-table th:nth-child(2) button');
  const sorted = await page.getAttribute('#service-table th:nth-child(2)', 'aria-sort');
  check(sorted === 'ascending', 'a column header sorts the table');
  await page.fill('#service-filter', searchFor);
  await page.waitForFunction((n) => document.querySelectorAll('#service-rows tr').length < n, expectNodes, { timeout: 5000 });
  const filtered = await page.locator('#service-rows tr').count();
  check(filtered >= 1 && filtered < expectNodes, `the filter keeps ${filtered} row(s)`);

  // The connection indicator: lost while the server is stopped, live again once it is back.
  // (The browser logs the refused reconnections as errors: expected here.)
  watchingConsole = false;
  const stopped = await fetch(`${control}/server/stop`, { method: 'POST' });
  check(stopped.ok, 'the test stopped iza serve');
  await page.waitForSelector('#conn[data-state="lost"]', { timeout: 15000 });
  const lostText = await page.textContent('#conn');
  check(/connection lost, retrying/i.test(lostText), `without the server, the header says "${lostText.trim()}"`);
  await shot('connection-lost');
  const restarted = await fetch(`${control}/server/start`, { method: 'POST' });
  check(restarted.ok, 'the test started iza serve again');
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 30000 });
  check(await page.evaluate(() => window.__noReload === true), 'the stream reconnects by itself, without a reload');
  watchingConsole = true;

  // A supervised service's page (under `iza up`): its process, its output live, and the
  // buttons, which ask for the API token before they act.
  if (processId) {
    await open(`#/services/${encodeURIComponent(processId)}`, '#process [data-process-state]');
    await page.waitForSelector('#process-log span', { timeout: 10000 });
    const before = await page.locator('#process-log span').count();
    await page.waitForFunction((n) => document.querySelectorAll('#process-log span').length > n, before, { timeout: 5000 });
    check(true, `${processId}'s output arrives live (${before} lines, then more)`);
    // Refused without the token: the browser logs the 401 as an error, expected here.
    watchingConsole = false;
    await page.click('#process button[data-action="stop"]');
    await page.waitForSelector('#process .token-form:not([hidden])', { timeout: 5000 });
    check(true, 'Stop without a token is refused and the token is asked for');
    watchingConsole = true;
    await page.fill('#token-input', token);
    await page.click('#process .token-form button[type="submit"]');
    await page.click('#process button[data-action="stop"]');
    await page.waitForSelector('#process [data-process-state="stopped"]', { timeout: 10000 });
    check(true, `with the token, Stop stops ${processId}`);
    await shot('service-process-stopped');
    await page.click('#process button[data-action="start"]');
    await page.waitForSelector('#process [data-process-state="running"], #process [data-process-state="ready"]', { timeout: 10000 });
    check(true, `Start starts ${processId} again`);
    // A service that `iza up` does not run says so, without a request that fails.
    await open(`#/services/${encodeURIComponent(downId)}`, '#process-none');
    check(consoleErrors.length === 0, `the process panels load with no console error ${consoleErrors.join('; ')}`);
  }

  if (chain.length) await execution();

  // The theme toggle persists.
  await page.click('#theme');
  const chosen = await page.getAttribute('html', 'data-theme');
  await page.reload();
  await page.waitForSelector('#conn[data-state="live"]');
  check(chosen === 'light' && (await page.getAttribute('html', 'data-theme')) === 'light', 'the theme toggle persists over a reload');

  // Phone width.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  page = await phone.newPage();
  watch(page);
  for (const [name, hash, ready] of PAGES) {
    await open(hash.replace('__DOWN__', encodeURIComponent(downId)), ready);
    await shot(`${name}-phone`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${name} fits the phone width (overflow ${overflow}px)`);
  }
  check(consoleErrors.length === 0, `no console errors anywhere ${consoleErrors.join('; ')}`);
}

/** The Execution page and the agents' part of a service's page, against a server whose
 *  agents run `okTask` on a schedule, fail `failingTask` every time, and run `runNowTask` and
 *  `slowTask` only when asked. */
async function execution() {
  const sel = (s) => s.replaceAll('"', '\\"');
  await page.evaluate(() => sessionStorage.clear());
  await open('#/execution', '#task-table');
  await page.evaluate(() => { window.__noReload = true; });

  // The agent tree: each agent of the chain under the one it reports to.
  const nested = chain.slice().reverse().map((a) => `li[data-agent="${a}"]`).join(' ');
  await page.waitForSelector(`#agent-tree ${nested}`, { timeout: 5000 });
  check(true, `the agent tree nests ${chain.slice().reverse().join(' > ')}`);
  const tiers = await page.$$eval('#agent-tree li[data-agent]', (items) => items.map((li) => li.dataset.tier));
  check(tiers.length >= chain.length && tiers.every((t) => /^[123]$/.test(t)), `every agent shows its tier (${tiers.join(', ')})`);

  // Runs arrive live: a scheduled run succeeds and a new one shows up without a reload.
  await page.waitForSelector(`#run-table tr[data-task="${sel(okTask)}"][data-state="succeeded"]`, { timeout: 15000 });
  const firstId = await page.$eval('#run-table tbody tr', (tr) => Number(tr.dataset.run));
  await page.waitForFunction((id) => Number(document.querySelector('#run-table tbody tr')?.dataset.run) > id, firstId, { timeout: 10000 });
  check(await page.evaluate(() => window.__noReload === true), `new runs appear live (after #${firstId}), without a reload`);

  // Figures per task: the succeeding task at 100 %, the failing one at 0 %, durations shown.
  await page.waitForFunction((t) => document.querySelector(`#task-table tr[data-task="${t}"] [data-rate]`)?.dataset.rate === '1', okTask, { timeout: 15000 });
  await page.waitForFunction((t) => document.querySelector(`#task-table tr[data-task="${t}"] [data-rate]`)?.dataset.rate === '0', failingTask, { timeout: 15000 });
  const okRow = await page.textContent(`#task-table tr[data-task="${sel(okTask)}"]`);
  check(/100 %/.test(okRow) && /\d+(\.\d)? (ms|s)/.test(okRow), `${okTask} shows a 100 % success rate and its durations ("${okRow.replace(/\s+/g, ' ').trim()}")`);
  const failedRun = await page.waitForSelector(`#run-table tr[data-task="${sel(failingTask)}"][data-state="failed"]`, { timeout: 15000 });
  const errorText = await failedRun.$eval('td.output', (td) => td.textContent);
  check(errorText.trim().length > 1 && errorText.trim() !== '—', `a failed run of ${failingTask} shows its error ("${errorText.trim().slice(0, 80)}")`);

  // The failing task's incident, with its whole escalation chain up to tier 1.
  const incident = await page.waitForSelector(`#incident-list li.incident:has(ol.chain li[data-agent="${chain[chain.length - 1]}"])`, { timeout: 20000 });
  const steps = await incident.$$eval('ol.chain li', (items) => items.map((li) => [li.dataset.agent, li.dataset.outcome]));
  check(steps.map(([a]) => a).join(',') === chain.join(','), `the incident's chain is ${steps.map(([a, o]) => `${a} (${o})`).join(' → ')}`);
  const spoken = await incident.$eval('ol.chain', (ol) => ol.getAttribute('aria-label'));
  check(spoken.startsWith(`Escalation chain: ${chain[0]} → ${chain[1]} (`), `screen readers hear "${spoken}"`);
  const openCard = await page.textContent('[data-queue="incidents"] .value');
  check(Number(openCard) >= 1, `the open incidents card counts ${openCard}`);
  await shot('execution-incident');

  // Run now: refused without the token, which is asked for; with it, the run is queued, runs,
  // and its output shows up live.
  watchingConsole = false;
  await page.click(`button[data-run-task="${sel(runNowTask)}"]`);
  await page.waitForSelector('#run-token-input', { state: 'visible', timeout: 5000 });
  check(true, 'Run now without a token is refused and the token asked for');
  watchingConsole = true;
  await page.fill('#run-token-input', token);
  await page.press('#run-token-input', 'Enter');
  await page.click(`button[data-run-task="${sel(runNowTask)}"]`);
  await page.waitForFunction(() => /Queued run #\d+/.test(document.querySelector('.run-message')?.textContent ?? ''), null, { timeout: 5000 });
  const queued = Number((await page.textContent('.run-message')).match(/#(\d+)/)[1]);
  await page.waitForSelector(`#run-table tr[data-run="${queued}"][data-state="succeeded"]`, { timeout: 15000 });
  const output = await page.textContent(`#run-table tr[data-run="${queued}"] td.output summary`);
  check(output.includes(runNowOutput), `Run now ran ${runNowTask} (run #${queued}) and its output reads "${output.trim()}"`);

  // A long run: in flight, with its elapsed time ticking.
  await page.click(`button[data-run-task="${sel(slowTask)}"]`);
  const cell = `#running-runs tr[data-task="${sel(slowTask)}"] td.elapsed`;
  await page.waitForSelector(cell, { timeout: 10000 });
  await shot('execution-running');
  const before = await page.textContent(cell);
  await page.waitForFunction(([c, b]) => document.querySelector(c) && document.querySelector(c).textContent !== b, [cell, before], { timeout: 5000 });
  check(true, `${slowTask} is shown running, its elapsed time ticking (${before} → ${await page.textContent(cell).catch(() => 'done')})`);

  // The Events page lists the run and incident events and filters by them.
  await open('#/events', '#event-list li');
  await page.selectOption('#event-kind', 'run-succeeded');
  await page.waitForSelector('#event-list li[data-kind="run-succeeded"]', { timeout: 10000 });
  const kinds = await page.$$eval('#event-list li', (items) => [...new Set(items.map((li) => li.dataset.kind))]);
  check(kinds.length === 1 && kinds[0] === 'run-succeeded', `the Events page filters the runs' events (${kinds.join(', ')})`);
  await page.selectOption('#event-kind', 'incident-opened');
  await page.waitForSelector('#event-list li[data-kind="incident-opened"]', { timeout: 10000 });
  check(true, 'the Events page lists incidents opened');

  // A service's page: the tasks and recent runs of the agents that watch it, with Run now.
  if (agentsService) {
    await open(`#/services/${encodeURIComponent(agentsService)}`, '#service-runs');
    const buttons = await page.locator('#service-agents button[data-run-task]').count();
    const rows = await page.locator('#service-runs tbody tr').count();
    check(buttons >= 1 && rows >= 1, `${agentsService}'s page shows its agents' tasks (${buttons} Run now buttons) and recent runs (${rows})`);
    await shot('service-agents');
  }
  check(consoleErrors.length === 0, `the Execution page and its parts have no console error ${consoleErrors.join('; ')}`);
}

const timer = setTimeout(async () => {
  console.error(`error: the browser tests did not finish within ${timeoutMs} ms`);
  try { if (page) await shot('failure'); } catch { /* closing */ }
  try { await browser?.close(); } catch { /* closing */ }
  process.exit(1);
}, timeoutMs);

try {
  await main();
  console.log(`# ${passed} checks passed; screenshots in ${shots}`);
  await browser.close();
  clearTimeout(timer);
  process.exit(0);
} catch (error) {
  console.error(`not ok - ${error.message}`);
  try { if (page) await shot('failure'); } catch { /* no page */ }
  try { await browser?.close(); } catch { /* closing */ }
  clearTimeout(timer);
  process.exit(1);
}

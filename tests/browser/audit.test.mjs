// Browser test of the dashboard's audit log (`#/audit`, docs/dashboard.md), in headless
// Chromium through playwright-core, against one running `iza serve` whose hub federates a demo
// MCP upstream and whose `port_map` tool is limited to 1/m. Run by
// crates/iza/tests/dashboard_audit.rs:
//
//   node audit.test.mjs --base http://127.0.0.1:PORT --token ADMIN --read-token READ \
//     --upstream alpha --screenshots DIR
//
// It makes the calls itself over `/mcp` (2026-07-28 requests): a federated call allowed (its
// argument carries a marker that must never appear on the page), one refused to the read token,
// a tool error, a rate-limited call. Checks: without the admin token the page says why and asks
// for it (the `iza token` hint as code, no backticks); with it, the calls are listed newest
// first with time, client, upstream, tool, decision, duration, outcome and the arguments'
// hash, never the arguments; messages with backticks show code elements; the filters by client
// and decision; a new call appears without a reload (the page polls); the empty and error
// states (the API's answer replaced); every control named; no console error; nothing
// overflows at a phone's width; text contrast; screenshots in both themes at desktop and
// phone widths (`audit-dark`, `audit-light`, `audit-phone-dark`, `audit-phone-light`,
// `audit-token-dark`). Exits 0 when every check passes, 1 otherwise (`audit-failure.png`).

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
const token = need('token');
const readToken = need('read-token');
const upstream = need('upstream');
const shots = args.screenshots ?? 'screenshots';
const executablePath = args.chromium ?? process.env.IZA_CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(args['timeout-ms'] ?? 120000);
mkdirSync(shots, { recursive: true });
rmSync(join(shots, 'audit-failure.png'), { force: true });

if (!existsSync(executablePath)) {
  console.error(`error: no Chromium at \`${executablePath}\`\nhint: run scripts/browser-deps.sh`);
  process.exit(2);
}

/** The API's audit route, whatever its query. */
const AUDIT_API = /\/api\/v1\/audit\?/;

/** A marker in a call's arguments: the page must never show it. */
const MARKER = `argument-marker-${Date.now()}`;

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

/** One MCP request of the 2026-07-28 generation to `/mcp`: the JSON-RPC answer. */
async function mcp(bearer, method, params) {
  const body = { jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'audit-browser-test', version: '1' },
  } } };
  const response = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28', 'mcp-method': method, 'mcp-name': params.name,
      authorization: `Bearer ${bearer}`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const json = text.trim().startsWith('{') ? text : (text.split('\n').find((l) => l.startsWith('data:')) ?? 'data:{}').slice(5);
  return JSON.parse(json);
}

async function shot(name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

function watch(p) {
  p.on('console', (msg) => {
    if (watchingConsole && msg.type() === 'error') consoleErrors.push(`${p.url()}: ${msg.text()}`);
  });
  p.on('pageerror', (error) => consoleErrors.push(`${p.url()}: uncaught ${error.message}`));
}

async function open(hash, ready, timeout = 15000) {
  await page.goto(`${base}/${hash}`, { waitUntil: 'load' });
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15000 });
  await page.waitForSelector(ready, { timeout });
}

/** Every button, input and select in `scope` has a name a screen reader can say. */
async function unlabeled(scope) {
  return page.$$eval(`${scope} button, ${scope} input, ${scope} select`, (els) => els
    .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
    .filter((el) => !((el.getAttribute('aria-label') ?? '').trim() || (el.labels?.[0]?.textContent ?? '').trim()
      || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.outerHTML.slice(0, 80)));
}

/** Text in `main` contrasting less than 4.5:1 (3:1 large) with its background (WCAG AA). */
async function lowContrast() {
  return page.evaluate(() => {
    const rgba = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c[3] ?? 1) > 0.5) return c;
      }
      return rgba(getComputedStyle(document.body).backgroundColor);
    };
    const bad = [];
    let measured = 0;
    const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.trim();
      const el = n.parentElement;
      if (!text || !el || el.closest('[hidden], .visually-hidden, svg') || !el.getClientRects().length) continue;
      measured += 1;
      const style = getComputedStyle(el);
      const [a, b] = [lum(rgba(style.color)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`"${text.slice(0, 30)}" (${ratio.toFixed(2)}, ${style.color})`);
    }
    return { bad: [...new Set(bad)], measured };
  });
}

const rowsOf = () => page.$$eval('#audit-table tbody tr', (trs) => trs.map((tr) => ({
  id: Number(tr.dataset.audit), client: tr.dataset.client, decision: tr.dataset.decision, outcome: tr.dataset.outcome,
  text: tr.textContent,
})));

async function main() {
  // The calls to audit: allowed (federated, with the marker), denied, a tool error, rate-limited.
  const echo = await mcp(token, 'tools/call', { name: `${upstream}__echo`, arguments: { text: MARKER } });
  check(echo.result?.structuredContent?.text === MARKER, 'a federated call through the hub answers');
  const denied = await mcp(readToken, 'tools/call', { name: 'run_task', arguments: { task: 'keeper/check-db' } });
  check(denied.error?.code === -32600, 'a call above the read token\'s scope is refused');
  const failed = await mcp(token, 'tools/call', { name: 'service_status', arguments: { service: 'nope' } });
  check(failed.result?.isError === true, 'a call of an unknown service is a tool error');
  await mcp(token, 'tools/call', { name: 'port_map', arguments: {} });
  const limited = await mcp(token, 'tools/call', { name: 'port_map', arguments: {} });
  check(/rate limit/.test(limited.error?.message ?? ''), `a second port_map is over its limit (${limited.error?.message})`);

  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  page = await desktop.newPage();
  const desktopPage = page;
  watch(page);

  // Without the admin token: why, and the form. (The refused fetch logs a console error.)
  watchingConsole = false;
  await open('#/audit', '.audit-needs-token');
  watchingConsole = true;
  const nav = await page.getAttribute('a[data-nav="audit"]', 'aria-current');
  check(nav === 'page', 'the Audit link of the navigation is the current page');
  const needs = await page.textContent('.audit-needs-token');
  check(/admin token/.test(needs) && !needs.includes('`') && await page.locator('.audit-needs-token code').count() >= 1,
    `without the token the page says it needs the admin token, \`iza token\` as code ("${needs.slice(0, 120)}")`);
  check(await page.isVisible('#audit-token-input'), 'the token is asked for');
  await shot('audit-token-dark');
  await page.fill('#audit-token-input', token);
  await page.press('#audit-token-input', 'Enter');
  await page.waitForSelector('#audit-table tbody tr', { timeout: 10000 });

  // The calls, newest first, every column, never the arguments.
  let rows = await rowsOf();
  check(rows.length >= 5, `the calls are listed (${rows.length})`);
  check(rows.every((r, i) => i === 0 || rows[i - 1].id > r.id), 'newest first');
  const html = await page.content();
  check(!html.includes(MARKER), 'the arguments are never on the page');
  const fed = page.locator(`#audit-table tbody tr:has(.audit-tool:text-is("${upstream}__echo"))`).first();
  const fedText = (await fed.textContent()).replace(/\s+/g, ' ');
  check(fedText.includes(upstream) && /admin/.test(fedText) && /allowed/.test(fedText) && /ok/.test(fedText) && /\d (ms|s)/.test(fedText),
    `the federated call shows client, upstream, decision, duration and outcome ("${fedText.slice(0, 160)}")`);
  check(await fed.locator('td:first-child time[datetime]').count() === 1, 'each call has its time');
  const hash = await fed.locator('.audit-hash').textContent();
  const fullHash = await fed.locator('.audit-hash').getAttribute('title');
  check(/^[0-9a-f]{12}$/.test(hash) && /[0-9a-f]{64}/.test(fullHash), `the arguments' SHA-256, shortened, in full on hover (${hash})`);
  const deniedRow = rows.find((r) => r.client === 'read');
  check(deniedRow?.decision === 'denied' && /run_task/.test(deniedRow.text) && /operate/.test(deniedRow.text), 'the refused call is denied, for the read token, with why');
  const limitedRow = page.locator('#audit-table tbody tr[data-decision="rate-limited"]').first();
  const limitedText = await limitedRow.locator('.audit-outcome').textContent();
  check(/rate limit/.test(limitedText) && !limitedText.includes('`') && await limitedRow.locator('.audit-outcome code').count() >= 1,
    `a message's names in backticks are code, not backticks ("${limitedText}")`);
  check(rows.some((r) => r.outcome === 'error' && /nope/.test(r.text)), 'the tool error is listed with its message');
  check((await unlabeled('main')).length === 0, `every control of the audit page has a name ${await unlabeled('main')}`);

  // Filters: by client, by decision, and none matching.
  await page.selectOption('#audit-client', 'read');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr')].every((tr) => tr.dataset.client === 'read'), null, { timeout: 10000 });
  check((await rowsOf()).length >= 1, 'the client filter leaves the read token\'s calls');
  await page.selectOption('#audit-client', '');
  await page.selectOption('#audit-decision', 'rate-limited');
  await page.waitForFunction(() => { const trs = [...document.querySelectorAll('#audit-table tbody tr')]; return trs.length && trs.every((tr) => tr.dataset.decision === 'rate-limited'); }, null, { timeout: 10000 });
  check(true, 'the decision filter leaves the rate-limited calls');
  await page.selectOption('#audit-client', 'push');
  await page.waitForSelector('#audit-empty', { timeout: 10000 });
  check(/No call matches these filters/.test(await page.textContent('#audit-empty')), 'no call matching the filters is said so');
  await page.selectOption('#audit-client', '');
  await page.selectOption('#audit-decision', '');
  await page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr').length >= 5, null, { timeout: 10000 });

  // A new call appears by itself (the page polls every 5 s).
  const newest = (await rowsOf())[0].id;
  await mcp(token, 'tools/call', { name: `${upstream}__add`, arguments: { a: 2, b: 40 } });
  await page.waitForFunction((id) => Number(document.querySelector('#audit-table tbody tr')?.dataset.audit) > id, newest, { timeout: 15000 });
  check((await rowsOf())[0].text.includes(`${upstream}__add`), 'a new call shows without a reload');

  // The empty log and a failing API, by replacing the API's answer.
  await page.route(AUDIT_API, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"records":[],"next":null}' }));
  await page.reload();
  await page.waitForSelector('#audit-empty', { timeout: 10000 });
  check(/No call recorded yet/.test(await page.textContent('#audit-empty')), 'an empty log says so');
  await page.unroute(AUDIT_API);
  await page.route(AUDIT_API, (route) => route.fulfill({ status: 500, contentType: 'application/json',
    body: '{"error":{"code":"internal","message":"the store at `state.db` failed"}}' }));
  watchingConsole = false;
  await page.reload();
  await page.waitForSelector('#audit-body .error-box', { timeout: 10000 });
  watchingConsole = true;
  const box = await page.textContent('#audit-body .error-box');
  check(/Could not load the audit log/.test(box) && !box.includes('`') && await page.locator('#audit-body .error-box code').count() === 1,
    `a failing API is said so, its message's code as code ("${box}")`);
  await page.unroute(AUDIT_API);

  // Screenshots, both themes, desktop then phone; nothing overflows; contrast.
  for (const [width, suffix] of [[1280, ''], [390, 'phone-']]) {
    if (width !== 1280) {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
      await phone.addInitScript((t) => sessionStorage.setItem('iza-token', t), token);
      page = await phone.newPage();
      watch(page);
    }
    for (const scheme of ['dark', 'light']) {
      await page.emulateMedia({ colorScheme: scheme });
      await open('#/audit', '#audit-table tbody tr', 15000);
      await shot(`audit-${suffix}${scheme}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `audit (${suffix}${scheme}) fits ${width} px (overflow ${overflow}px)`);
      const scrolled = await page.$$eval('main .table-wrap', (ws) => ws.filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => w.scrollWidth - w.clientWidth));
      check(scrolled.length === 0, `the audit table fits ${width} px (${suffix}${scheme}) ${scrolled.join(', ')}`);
      if (width !== 1280) {
        const under = (await page.textContent('#audit-table tbody tr[data-decision="rate-limited"] .audit-narrow-only')).replace(/\s+/g, ' ');
        check(/rate limit/.test(under) && await page.isVisible('#audit-table tbody tr .audit-narrow-only'), `on a phone the duration and outcome are under the tool ("${under.slice(0, 80)}")`);
      }
      const { bad, measured } = await lowContrast();
      check(measured > 10 && bad.length === 0, `audit (${suffix}${scheme}): the ${measured} texts contrast at least 4.5:1 (3:1 large) ${bad.join('; ')}`);
    }
  }
  page = desktopPage;
  check(consoleErrors.length === 0, `no console errors anywhere ${consoleErrors.join('; ')}`);
}

const timer = setTimeout(async () => {
  console.error(`error: the audit page's browser test did not finish within ${timeoutMs} ms`);
  try { if (page) await shot('audit-failure'); } catch { /* closing */ }
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
  try { if (page) await shot('audit-failure'); } catch { /* no page */ }
  try { await browser?.close(); } catch { /* closing */ }
  clearTimeout(timer);
  process.exit(1);
}

// Browser test of the dashboard's Workflows page (`#/workflows`, docs/workflows.md), in headless
// Chromium through playwright-core, against one running `iza serve` that follows the n8n
// stand-in (`iza demo-service --engine n8n`, one workflow failing). Run by
// crates/iza/tests/dashboard.rs (`the_workflows_page_works_in_a_browser`):
//
//   node workflows.test.mjs --base http://127.0.0.1:PORT --token TOKEN --engine n8n \
//     --workflows 12 --screenshots DIR
//
// Checks: the engine degraded with its verdict, the failing workflow first with its error,
// node and a link to the execution in the engine's UI, runs / success rate / p95 over 1h, 24h
// and 7d; "Failing workflows only"; Retry refused without the token, then done with it (the
// engine's new execution named); the engine's service page says what degrades it; every
// control named; no console error; at a phone's width nothing overflows; text contrast; a
// screenshot in both themes at desktop and phone widths (`workflows-dark`, `workflows-light`,
// `workflows-phone-dark`, `workflows-phone-light`, and `workflows-service-dark`).
// Exits 0 when every check passes, 1 otherwise (`workflows-failure.png` is left in DIR).

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
const engineId = need('engine');
const workflowCount = Number(need('workflows'));
const shots = args.screenshots ?? 'screenshots';
const executablePath = args.chromium ?? process.env.IZA_CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(args['timeout-ms'] ?? 120000);
mkdirSync(shots, { recursive: true });
rmSync(join(shots, 'workflows-failure.png'), { force: true });

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

const section = `.wf-engine[data-engine="${engineId}"]`;
const degraded = `${section}[data-status="degraded"] tbody tr[data-failing="true"]`;

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

async function main() {
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  page = await desktop.newPage();
  const desktopPage = page;
  watch(page);

  // The engine, degraded, with its failing workflow first.
  await open('#/workflows', degraded, 60000);
  check(consoleErrors.length === 0, `the Workflows page shows its data with no console error ${consoleErrors.join('; ')}`);
  const nav = await page.getAttribute('a[data-nav="workflows"]', 'aria-current');
  check(nav === 'page', 'the Workflows link of the navigation is the current page');
  const verdict = (await page.textContent(`${section} .wf-verdict`)).trim();
  check(/workflow .+ failing/.test(verdict) && /success rate/.test(verdict), `the engine's verdict says which workflow fails and why ("${verdict}")`);
  // Its name was in backticks: shown as code, not as backticks.
  check(!verdict.includes('`') && await page.locator(`${section} .wf-verdict code`).count() >= 1, 'the verdict shows the workflow\'s name as code, without backticks');
  check(await page.locator(`${section} h2 .badge.st-degraded`).count() === 1, 'the engine is shown degraded');
  const rows = await page.$$eval(`${section} tbody tr`, (trs) => trs.map((tr) => tr.dataset.failing));
  check(rows.length === workflowCount && rows[0] === 'true' && rows.slice(1).every((f) => f === 'false'),
    `the ${workflowCount} workflows are listed, the failing one first (${rows.join(',')})`);
  const first = `${section} tbody tr:first-child`;
  const firstText = (await page.textContent(first)).replace(/\s+/g, ' ');
  check(/502/.test(firstText) && /HTTP Request/.test(firstText), `the failing workflow shows its last error and node ("${firstText.slice(0, 160)}")`);
  const link = await page.getAttribute(`${first} a[data-execution]`, 'href');
  const executionId = await page.getAttribute(`${first} a[data-execution]`, 'data-execution');
  check(link?.endsWith(`/executions/${executionId}`) && (await page.getAttribute(`${first} a[data-execution]`, 'target')) === '_blank',
    `the last error links to the execution in the engine's UI (${link})`);
  for (const key of ['1h', '24h', '7d']) {
    const runs = Number(await page.textContent(`${first} td[data-runs="${key}"]`));
    const rate = await page.textContent(`${first} td[data-rate="${key}"]`);
    const p95 = await page.textContent(`${first} td[data-p95="${key}"]`);
    check(runs > 0 && /%$/.test(rate) && /\d (ms|s)$/.test(p95), `${key}: ${runs} runs, ${rate} OK, p95 ${p95}`);
  }
  check((await unlabeled('main')).length === 0, `every control of the Workflows page has a name ${await unlabeled('main')}`);

  // Failing only: one row.
  await page.check('#workflows-failing');
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 1, `${section} tbody tr`, { timeout: 10000 });
  check(await page.locator(`${section} tbody tr[data-failing="true"]`).count() === 1, '"Failing workflows only" leaves the failing one');

  // Retry: refused without the token, then done with it.
  const retry = `${first} button[data-retry]`;
  watchingConsole = false;
  await page.click(retry);
  await page.waitForSelector('#workflows-token-input', { state: 'visible', timeout: 5000 });
  check(/Refused/.test(await page.textContent('#workflows-message')), 'Retry without a token is refused and the token asked for');
  watchingConsole = true;
  await page.fill('#workflows-token-input', token);
  await page.press('#workflows-token-input', 'Enter');
  // The table redraws every ten seconds: pressed again until the engine's answer shows.
  const by = Date.now() + 15000;
  while (!/started execution \d+/.test(await page.textContent('#workflows-message'))) {
    if (Date.now() > by) throw new Error(`Retry did not go through: ${await page.textContent('#workflows-message')}`);
    await page.click(`${section} tbody tr:first-child button[data-retry]`, { timeout: 2000 }).catch(() => {});
    await page.waitForFunction(() => /started execution \d+|failed/.test(document.getElementById('workflows-message').textContent), null, { timeout: 3000 }).catch(() => {});
  }
  const said = await page.textContent('#workflows-message');
  check(/Retrying execution \d+ of “[^”]+”: the engine started execution \d+/.test(said), `with the token, Retry retries the last failed execution ("${said}")`);
  await page.uncheck('#workflows-failing');
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length > 1, `${section} tbody tr`, { timeout: 10000 });

  // The engine's service page says what degrades it, and links here.
  await open(`#/services/${encodeURIComponent(engineId)}`, '#service-degraded-by');
  const by2 = (await page.textContent('#service-degraded-by')).replace(/\s+/g, ' ');
  check(/1 workflow failing/.test(by2) && /HTTP Request/.test(by2), `the service page says what degrades ${engineId} ("${by2.slice(0, 120)}")`);
  check(await page.locator('#service-status .badge.st-degraded').count() === 1, `the service page shows ${engineId} degraded`);
  await shot('workflows-service-dark');

  // Screenshots, both themes, desktop then phone; at phone width nothing overflows.
  for (const [width, suffix] of [[1280, ''], [390, 'phone-']]) {
    if (width !== 1280) {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
      page = await phone.newPage();
      watch(page);
    }
    for (const scheme of ['dark', 'light']) {
      await page.emulateMedia({ colorScheme: scheme });
      await open('#/workflows', degraded, 30000);
      await shot(`workflows-${suffix}${scheme}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `workflows (${suffix}${scheme}) fits ${width} px (overflow ${overflow}px)`);
      // The table too: nothing of it hides behind a sideways scroll; on a phone the error is
      // under the workflow's name.
      const scrolled = await page.$$eval('main .table-wrap', (ws) => ws.filter((w) => w.scrollWidth > w.clientWidth + 1).map((w) => w.scrollWidth - w.clientWidth));
      check(scrolled.length === 0, `the workflows table fits ${width} px (${suffix}${scheme}) ${scrolled.join(', ')}`);
      if (width !== 1280) {
        const under = (await page.textContent(`${first} .wf-narrow-only`)).replace(/\s+/g, ' ');
        check(/HTTP Request/.test(under) && await page.isVisible(`${first} .wf-narrow-only`), `on a phone the last error is under the name ("${under.slice(0, 80)}")`);
      }
      const { bad, measured } = await lowContrast();
      check(measured > 10 && bad.length === 0, `workflows (${suffix}${scheme}): the ${measured} texts contrast at least 4.5:1 (3:1 large) ${bad.join('; ')}`);
    }
  }
  page = desktopPage;
  check(consoleErrors.length === 0, `no console errors anywhere ${consoleErrors.join('; ')}`);
}

const timer = setTimeout(async () => {
  console.error(`error: the Workflows page's browser test did not finish within ${timeoutMs} ms`);
  try { if (page) await shot('workflows-failure'); } catch { /* closing */ }
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
  try { if (page) await shot('workflows-failure'); } catch { /* no page */ }
  try { await browser?.close(); } catch { /* closing */ }
  clearTimeout(timer);
  process.exit(1);
}

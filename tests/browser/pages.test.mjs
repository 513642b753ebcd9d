// Browser tests of the dashboard's newer pages, in headless Chromium through playwright-core,
// against one running `iza up` with real data. Run by crates/iza/tests/dashboard.rs
// (`the_newer_pages_work_in_a_browser`), which writes the manifest and starts the server:
//
//   node pages.test.mjs --base http://127.0.0.1:PORT --token TOKEN --down db --impacted api \
//     --figures biz --compare shop --upstream tools --screenshots DIR
//
// `--down` is a service down from the start (an alert fires for it) impacting `--impacted`;
// `--figures` a service reading `arr` and `customers` from `iza demo-service --arr`;
// `--compare` a service whose compare check fails; `--upstream` a demo MCP server of the hub.
// The server keeps its store in PostgreSQL, so the Nodes page lists this node.
// Checks the Alerts page (groups, Acknowledge and silences with the token, every control
// reachable with Tab), the Nodes page, the MCP hub, the overview's business figures, a
// service's sparklines and a failed comparison's three images; each page with no console
// error, fitting a phone's width, and a screenshot of each in both themes at desktop and phone
// widths (`NAME-dark`, `NAME-light`, `NAME-phone-dark`, `NAME-phone-light`).
// Exits 0 when every check passes, 1 otherwise (`pages-failure.png` is left in DIR).

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
const downId = need('down');
const impacted = need('impacted');
const figuresId = need('figures');
const compareId = need('compare');
const upstream = need('upstream');
const shots = args.screenshots ?? 'screenshots';
const executablePath = args.chromium ?? process.env.IZA_CHROMIUM ?? '/usr/bin/chromium';
const timeoutMs = Number(args['timeout-ms'] ?? 120000);
mkdirSync(shots, { recursive: true });
rmSync(join(shots, 'pages-failure.png'), { force: true });

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
  // From the top: a full-page shot of a scrolled page paints the sticky header mid-page.
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

const svc = (id) => `#/services/${encodeURIComponent(id)}`;
// Each page, with what shows it is drawn with its data.
const PAGES = [
  ['alerts', '#/alerts', `.alert-card[data-group="firing"] a[href="${svc(downId)}"]`],
  ['nodes', '#/nodes', '#node-table tr[data-node] .badge.st-up'],
  ['hub', '#/hub', `#hub-table tr[data-upstream="${upstream}"][data-state="up"]`],
  ['figures', '#/', '#figure-table tbody tr'],
  ['sparklines', svc(figuresId), '[data-figure="arr"] .sparkline'],
  ['comparison', svc(compareId), '#service-artifacts .comparison'],
];

/** The names Tab reaches, in order, from the top of the page (at most `max` presses). */
async function tabStops(max) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    seen.push(await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return '';
      const label = el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.name || '';
      return `${el.tagName.toLowerCase()}${el.dataset.ack ? `[ack=${el.dataset.ack}]` : ''}${el.name ? `[name=${el.name}]` : ''}:${label.trim().replace(/\s+/g, ' ')}`;
    }));
  }
  return seen;
}

/** Every button, input and select in `scope` has a name a screen reader can say. */
async function unlabeled(scope) {
  return page.$$eval(`${scope} button, ${scope} input, ${scope} select`, (els) => els
    .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
    .filter((el) => !((el.getAttribute('aria-label') ?? '').trim() || (el.labels?.[0]?.textContent ?? '').trim()
      || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.outerHTML.slice(0, 80)));
}

/** Text in `main` whose colour contrasts less than 4.5:1 (3:1 for large text) with the
 *  background behind it (WCAG AA), as "text (ratio)" lines, and how many texts were measured. */
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
      const fg = rgba(style.color);
      const [a, b] = [lum(fg), lum(background(el))];
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

  // The data arrives: wait for each page's first, with generous time (the compare check
  // starts Chromium in the server; the figures need two reads for a line).
  for (const [name, hash, ready] of PAGES) {
    await open(hash, ready, 40000);
    check(consoleErrors.length === 0, `${name} shows its data with no console error ${consoleErrors.join('; ')}`);
  }

  // Alerts: one alert for the root cause, naming what it impacts, with its buttons.
  await open('#/alerts', `.alert-card[data-group="firing"] a[href="${svc(downId)}"]`);
  const card = `.alert-card[data-group="firing"]:has(a[href="${svc(downId)}"])`;
  const cardText = (await page.textContent(card)).replace(/\s+/g, ' ');
  check(cardText.includes('critical') && cardText.includes(`Impacted (1): ${impacted}`),
    `the firing alert names ${downId}, its severity and what it impacts ("${cardText.slice(0, 140)}")`);
  const ofImpacted = await page.locator(`.alert-card h3 a[href="${svc(impacted)}"]`).count();
  check(ofImpacted === 0, `one alert per root cause: none of its own for ${impacted}, which is only impacted`);
  const groups = await page.$$eval('.alert-group h2', (hs) => hs.map((x) => x.textContent));
  check(groups.length === 5 && /^Firing \([1-9]\d*\)$/.test(groups[0]), `the groups are listed with their counts (${groups.join(', ')})`);
  const alertId = await page.getAttribute(`${card} button[data-ack]`, 'data-ack');
  check(alertId != null, `the alert #${alertId} has an Acknowledge button`);
  check((await unlabeled('main')).length === 0, `every control of the Alerts page has a name ${await unlabeled('main')}`);
  const stops = await tabStops(60);
  const reached = (what) => stops.some((s) => s.includes(what));
  check(reached(`[ack=${alertId}]`) && reached('[name=value]') && reached('[name=comment]') && reached(':Silence'),
    `Tab reaches Acknowledge, the silence form's fields and its button (${stops.filter(Boolean).slice(-12).join(' | ')})`);

  // The deliveries: the webhook was told.
  await page.click(`${card} button[data-deliveries]`);
  await page.waitForSelector(`${card} .deliveries table, ${card} .deliveries p`, { timeout: 5000 });
  const deliveries = await page.textContent(`${card} .deliveries`);
  check(/hook/.test(deliveries) || /No delivery yet/.test(deliveries), `Deliveries shows the log ("${deliveries.replace(/\s+/g, ' ').slice(0, 100)}")`);

  // Acknowledge without the token: refused, the token is asked for; with it (by keyboard),
  // the alert moves to Acknowledged.
  watchingConsole = false;
  await page.click(`button[data-ack="${alertId}"]`);
  await page.waitForSelector('#alerts-token-input', { state: 'visible', timeout: 5000 });
  check(/Refused/.test(await page.textContent('#alerts-message')), 'Acknowledge without a token is refused and the token asked for');
  watchingConsole = true;
  await page.fill('#alerts-token-input', token);
  await page.press('#alerts-token-input', 'Enter');
  // The page redraws when an alert or notification event arrives, which can take the focused
  // button away between the focus and the key: pressed again until it lands, within 10 s.
  const ackedCard = `.alert-card[data-group="acknowledged"][data-alert="${alertId}"]`;
  const ackBy = Date.now() + 10000;
  while (!(await page.$(ackedCard))) {
    if (Date.now() > ackBy) throw new Error(`alert #${alertId} was not acknowledged within 10 s`);
    await page.press(`button[data-ack="${alertId}"]`, 'Enter', { timeout: 2000 }).catch(() => {});
    await page.waitForSelector(ackedCard, { timeout: 2000 }).catch(() => {});
  }
  const acked = await page.textContent(`.alert-card[data-alert="${alertId}"]`);
  check(/acknowledged by/.test(acked), `with the token, Acknowledge (pressed with Enter) acknowledges alert #${alertId}`);

  // A silence: made with the form, listed, then ended.
  await page.selectOption('#silence-form select[name="kind"]', 'service');
  await page.fill('#silence-form input[name="value"]', impacted);
  await page.fill('#silence-form input[name="duration"]', '1h');
  await page.fill('#silence-form input[name="created_by"]', 'the browser test');
  await page.fill('#silence-form input[name="comment"]', 'a planned upgrade');
  await page.click('#silence-form button[type="submit"]');
  const row = await page.waitForSelector('#silences-table tr[data-silence]', { timeout: 10000 });
  const silenceId = await row.getAttribute('data-silence');
  check(await page.inputValue('#silence-form input[name="comment"]') === '' && await page.inputValue('#silence-form input[name="duration"]') === '2h',
    'once made, the silence form is emptied for the next one');
  check(/a planned upgrade/.test(await row.textContent()) && (await row.textContent()).includes(`service=${impacted}`), `the silence #${silenceId} of ${impacted} is listed with its reason`);
  // (Ended at the end, so that the screenshots show it.)

  // The Events page says what the alerting did, in words.
  await open('#/events', '#event-list li');
  await page.selectOption('#event-kind', 'alert-acknowledged');
  const ackEvent = await page.waitForSelector('#event-list li[data-kind="alert-acknowledged"]', { timeout: 10000 });
  const ackText = (await ackEvent.textContent()).replace(/\s+/g, ' ');
  check(ackText.includes(`Alert #${alertId} acknowledged by the dashboard`), `the Events page tells the acknowledgement ("${ackText.trim()}")`);
  await page.selectOption('#event-kind', 'notification-sent');
  const sent = (await (await page.waitForSelector('#event-list li[data-kind="notification-sent"]', { timeout: 10000 })).textContent()).replace(/\s+/g, ' ');
  check(/hook told of alerts? #\d/.test(sent), `the Events page tells the notifications ("${sent.trim()}")`);

  // Nodes: this node, alive, on PostgreSQL.
  await open('#/nodes', '#node-table tr[data-node]');
  const nodeRow = (await page.textContent('#node-table tbody tr')).replace(/\s+/g, ' ');
  check(/this node/.test(nodeRow) && /alive/.test(nodeRow), `the Nodes page lists this node, alive ("${nodeRow.slice(0, 100)}")`);
  check(Number(await page.textContent('[data-card="alive"] .value')) === 1, 'the Nodes page counts 1 node alive');

  // The hub: the upstream up, its tools namespaced.
  await open('#/hub', `#hub-table tr[data-upstream="${upstream}"][data-state="up"]`);
  const tools = await page.$$eval('#hub-tools li', (lis) => lis.map((li) => li.textContent));
  check(tools.includes(`${upstream}__echo`) && tools.includes(`${upstream}__add`), `the hub federates ${tools.join(', ')}`);
  const hubRow = (await page.textContent(`#hub-table tr[data-upstream="${upstream}"]`)).replace(/\s+/g, ' ');
  check(/\d{4}-\d{2}-\d{2}/.test(hubRow), `the upstream shows its protocol revision ("${hubRow.slice(0, 100)}")`);

  // Business figures on the overview: ARR in dollars beside the claim, customers counted.
  await open('#/', '#figure-table tbody tr');
  const claim = (await page.textContent('[data-claim="arr"]')).replace(/\s+/g, ' ');
  check(/\$\d/.test(claim) && /claimed: \$200M\+/.test(claim), `the ARR claim shows measured beside claimed ("${claim}")`);
  const figureRows = await page.$$eval('#figure-table tbody tr', (trs) => trs.map((tr) => tr.textContent.replace(/\s+/g, ' ')));
  check(figureRows.some((r) => /ARR/.test(r) && /\$\d/.test(r) && r.includes(figuresId))
    && figureRows.some((r) => /Customers/.test(r) && /\d/.test(r)), `the figures table lists ARR and customers (${figureRows.join(' / ')})`);

  // A service's sparklines: one per figure, with a drawn line.
  await open(svc(figuresId), '[data-figure="arr"] .sparkline');
  await page.waitForSelector('[data-figure="arr"] .sparkline path.line', { state: 'attached', timeout: 15000 });
  // (A flat line has no height: attached, not "visible", is what can be waited for.)
  await page.waitForSelector('[data-figure="customers"] .sparkline path.line', { state: 'attached', timeout: 15000 });
  const lines = await page.$$eval('.sparkline', (els) => els.map((el) => el.getAttribute('aria-label')));
  check(lines.length === 2 && lines.every((l) => /\d+ points/.test(l)), `${figuresId} shows a sparkline per figure (${lines.join('; ')})`);

  // The failed comparison: its figures and the three images, loaded.
  await open(svc(compareId), '#service-artifacts .comparison');
  const facts = (await page.textContent('#service-artifacts .comparison')).replace(/\s+/g, ' ');
  check(/Pixels differing/.test(facts) && /Missing links ?1/.test(facts), `the comparison says what differs ("${facts.slice(0, 120)}")`);
  const missing = await page.$$eval('#service-artifacts details[open] .missing-links li', (lis) => lis.map((li) => li.textContent));
  check(missing.some((l) => l.includes('/about')), `the missing link is named (${missing.join(', ')})`);
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#service-artifacts details[open] .shots img')];
    return imgs.length === 3 && imgs.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: 10000 });
  const captions = await page.$$eval('#service-artifacts details[open] .shots figcaption', (fs) => fs.map((f) => f.textContent));
  check(['original', 'replica', 'diff'].every((c) => captions.some((x) => x.includes(c))), `original, replica and diff are shown side by side (${captions.join(', ')})`);
  const sideBySide = await page.$$eval('#service-artifacts details[open] .shots figure', (fs) => new Set(fs.map((f) => Math.round(f.getBoundingClientRect().top))).size);
  check(sideBySide === 1, 'at desktop width the three images are on one row');

  // Screenshots, both themes, desktop then phone; at phone width nothing overflows.
  for (const [width, suffix] of [[1280, ''], [390, 'phone-']]) {
    if (width !== 1280) {
      const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
      page = await phone.newPage();
      watch(page);
    }
    for (const scheme of ['dark', 'light']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [name, hash, ready] of PAGES) {
        await open(hash, ready.replace('[data-group="firing"]', ''));
        await shot(`${name}-${suffix}${scheme}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (width !== 1280 && ['alerts', 'nodes', 'hub', 'figures'].includes(name)) {
          // Their tables fit too: nothing of them hides behind a sideways scroll.
          const scrolled = await page.$$eval('main .table-wrap', (ws) => ws.filter((w) => w.scrollWidth > w.clientWidth + 1)
            .map((w) => `${w.querySelector('table')?.id || w.closest('section')?.querySelector('h2')?.textContent} (${w.scrollWidth - w.clientWidth}px)`));
          check(scrolled.length === 0, `the tables of ${name} fit the phone (${suffix}${scheme}) ${scrolled.join(', ')}`);
        }
        if (name === 'alerts') {
          // The silence's End button is in view, not scrolled away in its table.
          const end = await page.$eval('button[data-end-silence]', (b) => {
            const r = b.getBoundingClientRect(), box = b.closest('.table-wrap').getBoundingClientRect();
            return r.right <= box.right + 1;
          });
          check(end, `the silence's End button is in view (${suffix}${scheme})`);
        }
        check(overflow <= 1, `${name} (${suffix}${scheme}) fits ${width} px (overflow ${overflow}px)`);
        const { bad, measured } = await lowContrast();
        check(measured > 10 && bad.length === 0, `${name} (${suffix}${scheme}): the ${measured} texts contrast at least 4.5:1 (3:1 large) with their background ${bad.join('; ')}`);
      }
    }
  }

  // End, on the desktop page that holds the token: the silence is gone.
  page = desktopPage;
  await open('#/alerts', `#silences-table tr[data-silence="${silenceId}"]`);
  await page.click(`button[data-end-silence="${silenceId}"]`);
  await page.waitForSelector(`#silences-table tr[data-silence="${silenceId}"]`, { state: 'detached', timeout: 10000 });
  check(/No silence is in force/.test(await page.textContent('#silences-body')), `End ends silence #${silenceId}, and the page says none is in force`);
  check(consoleErrors.length === 0, `no console errors anywhere ${consoleErrors.join('; ')}`);
}

const timer = setTimeout(async () => {
  console.error(`error: the pages' browser tests did not finish within ${timeoutMs} ms`);
  try { if (page) await shot('pages-failure'); } catch { /* closing */ }
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
  try { if (page) await shot('pages-failure'); } catch { /* no page */ }
  try { await browser?.close(); } catch { /* closing */ }
  clearTimeout(timer);
  process.exit(1);
}

// The peer of bench/browser-checks.sh: the same browser checks run by a Playwright script
// (npm `playwright-core`, with Debian's /usr/bin/chromium), as a team would write it: one
// browser, at most 4 pages at once, a fresh context per check, `goto` to the load event, wait
// for the `h1`, read the title and the visible text, close the context. Every PERIOD seconds
// it runs all the checks; after SECONDS it writes the durations (ms) as JSON and exits.
//
//   node bench/browser-checks-peer.mjs BASE_URL CHECKS PERIOD_S SECONDS OUT.json
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';

const [base, checks, period, seconds, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.IZA_CHROMIUM || '/usr/bin/chromium',
  args: ['--disable-dev-shm-usage', '--disable-gpu'],
});
const durations = [];
let failed = 0;
const one = async (n) => {
  const started = performance.now();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const answer = await page.goto(`${base}/site/?n=${n}`, { waitUntil: 'load', timeout: 30000 });
    await page.waitForSelector('h1', { timeout: 30000 });
    await page.title();
    await page.evaluate(() => document.body.innerText);
    if (!answer || answer.status() !== 200) failed += 1;
  } catch (e) {
    failed += 1;
  } finally {
    await context.close();
  }
  durations.push(performance.now() - started);
};
const end = Date.now() + Number(seconds) * 1000;
// No check starts after the end: both sides are measured over the same window.
const round = async () => {
  const queue = Array.from({ length: Number(checks) }, (_, i) => i);
  const worker = async () => { while (queue.length && Date.now() < end) await one(queue.shift()); };
  await Promise.all([worker(), worker(), worker(), worker()]);
};
while (Date.now() < end) {
  const next = Date.now() + Number(period) * 1000;
  await round();
  const wait = Math.min(next, end) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await browser.close();
writeFileSync(out, JSON.stringify({ durations, failed }));

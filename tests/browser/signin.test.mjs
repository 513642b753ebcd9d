// Browser test of the sign-in of a server that protects reads (`iza serve --protect-reads`),
// in headless Chromium through playwright-core. Run by crates/iza/tests/dashboard.rs:
//
//   node signin.test.mjs --base http://127.0.0.1:PORT --token TOKEN [--screenshots DIR]
//
// The page must ask for the token, refuse a wrong one with the reason, and with the right one
// show the live overview. Exits 0 when it does, 1 otherwise; stops by itself.

import { chromium } from 'playwright-core';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => {
  if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
  return pairs;
}, []));
const base = args.base.replace(/\/$/, '');
const shots = args.screenshots ?? '.';
const executablePath = args.chromium ?? process.env.IZA_CHROMIUM ?? '/usr/bin/chromium';

const timer = setTimeout(() => { console.error('not ok - timed out'); process.exit(1); }, 60000);
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.waitForSelector('#signin-token', { timeout: 15000 });
  console.log('ok 1 - the page asks for the token');
  await page.screenshot({ path: join(shots, 'signin.png') });
  await page.fill('#signin-token', 'not-the-token-0123456789abcdef01');
  await page.click('#signin button[type="submit"]');
  await page.waitForFunction(() => /Refused: wrong token/.test(document.querySelector('#signin-page [role="alert"]')?.textContent ?? ''), null, { timeout: 10000 });
  console.log('ok 2 - a wrong token is refused with the reason');
  await page.fill('#signin-token', args.token);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#status-cards .card', { timeout: 15000 });
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15000 });
  console.log('ok 3 - with the token, the overview loads and the stream is live');
  await browser.close();
  clearTimeout(timer);
} catch (error) {
  console.error(`not ok - ${error.message}`);
  await browser.close();
  process.exit(1);
}

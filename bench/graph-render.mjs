#!/usr/bin/env node
// Benchmark: first render of the dashboard's network graph in headless Chromium, on an
// ecosystem of 500 services and 1,500 edges (bench/gen-manifest.py), against the target of
// 1 s. The time is from the start of navigation to `#/graph` until the page's
// `performance.mark('graph-rendered')`, set once the first frame with the whole graph is
// painted (fetching /api/v1/graph, the layout, building the SVG). Runs 5 cold loads (a new
// browser context each) and prints each, the median and the worst. Leaves screenshots of
// the graph (whole, and zoomed in) in target/dashboard-screenshots/.
//
//   bench/graph-render.mjs [--services 500] [--edges 1500] [--runs 5] [--bin PATH]
//
// Builds and uses the release binary (`--bin` uses another one and skips the build); needs what
// scripts/browser-deps.sh installs. Talks only to 127.0.0.1; stops what it starts.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const services = arg('services', 500);
const edges = arg('edges', 1500);
const runs = arg('runs', 5);
const TARGET_MS = 1000;

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`error: \`${cmd} ${args.join(' ')}\` failed`);
    process.exit(2);
  }
};
run('bash', ['scripts/browser-deps.sh']);
const binAt = process.argv.indexOf('--bin');
const bin = binAt > 0 ? process.argv[binAt + 1] : join(root, 'target/release/iza');
if (binAt < 0) run('cargo', ['build', '--release', '-q', '-p', 'iza']);

const work = mkdtempSync(join(tmpdir(), 'iza-graph-bench-'));
run('python3', ['bench/gen-manifest.py', '--services', String(services), '--edges', String(edges),
  '--ported', String(services), '--group-size', '25', '--out', join(work, 'iza.toml')]);

const server = spawn(bin,
  ['serve', join(work, 'iza.toml'), '--listen', '127.0.0.1:0', '--db', join(work, 'state.db')],
  { stdio: ['ignore', 'ignore', 'pipe'] });
let browser;
let serverExited = false;
server.on('exit', () => { serverExited = true; });
/** Stops the server (SIGTERM, then SIGKILL after 10 s), removes the work directory, exits. */
async function finish(code) {
  if (!serverExited) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

const started = new Promise((resolve, reject) => {
  let log = '';
  const timer = setTimeout(() => reject(new Error(`iza serve did not start:\n${log}`)), 30000);
  server.stderr.on('data', (chunk) => {
    log += chunk;
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  server.on('exit', (code) => reject(new Error(`iza serve exited (${code}):\n${log}`)));
});
const base = await started.catch(async (e) => {
  console.error(`error: ${e.message}`);
  await finish(2);
});

try {
  browser = await chromium.launch({
    executablePath: process.env.IZA_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const times = [];
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/#/graph`);
    await page.waitForFunction(() => performance.getEntriesByName('graph-rendered').length > 0, null, { timeout: 30000 });
    const marks = await page.evaluate(() => Object.fromEntries(
      ['graph-fetched', 'graph-laid-out', 'graph-built', 'graph-rendered']
        .map((name) => [name, performance.getEntriesByName(name)[0]?.startTime ?? NaN])));
    const t = marks['graph-rendered'];
    const [nodes, lines] = await page.evaluate(() => [
      document.querySelectorAll('#graph-box .node').length,
      document.querySelectorAll('#graph-box .graph-edges path').length]);
    const at = (name) => marks[name].toFixed(0);
    console.log(`run ${i + 1}: ${t.toFixed(0)} ms (${nodes} nodes, ${lines} edges drawn; graph fetched at ${at('graph-fetched')} ms, laid out at ${at('graph-laid-out')} ms, SVG built at ${at('graph-built')} ms)`);
    times.push(t);
    if (errors.length) throw new Error(`console errors: ${errors.join('; ')}`);
    if (i === runs - 1) {
      mkdirSync(join(root, 'target/dashboard-screenshots'), { recursive: true });
      await page.screenshot({ path: join(root, `target/dashboard-screenshots/graph-${services}.png`) });
      await page.click('button[aria-label^="Zoom in"]');
      await page.click('button[aria-label^="Zoom in"]');
      await page.click('button[aria-label^="Zoom in"]');
      await page.screenshot({ path: join(root, `target/dashboard-screenshots/graph-${services}-zoomed.png`) });
    }
    await context.close();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const worst = times[times.length - 1];
  console.log(`graph first render, ${services} services / ${edges} edges: median ${median.toFixed(0)} ms, worst ${worst.toFixed(0)} ms (target < ${TARGET_MS} ms)`);
  await browser.close();
  await finish(worst < TARGET_MS ? 0 : 1);
} catch (e) {
  console.error(`error: ${e.message}`);
  await browser?.close();
  await finish(2);
}

// The audit log (`#/audit`, docs/mcp.md "The audit log"): the most recent MCP tool calls and
// mutating API calls, newest first: when, which client (the token's name and scope), the
// hub's upstream, the tool or API route, the decision (allowed, denied, rate-limited), how long
// it took, the outcome and why, and the SHA-256 of the arguments. The arguments themselves are
// never shown (the API returns them, masked; `iza audit` prints them). Filters by client and
// by decision (the API's `client` and `outcome`). The log is the admin token's to read: without
// it (a 401 or 403) the page asks for it. No event announces a new record, so the page polls:
// every 5 s while the tab is visible, one request at a time, at most `limit` rows (100, "Show
// more" up to the API's 1000).

import { api } from '../api.js';
import { h, timeEl, ms, failure, rich } from '../dom.js';
import { savedToken, tokenPrompt } from '../token.js';

export const title = () => 'Audit log';

const POLL_MS = 5000;
const PAGE = 100;
const MAX_ROWS = 1000;

const CLIENTS = ['admin', 'operate', 'read', 'push', 'anonymous'];
/** The decision filter: the API's `outcome` values, in words. */
const DECISIONS = [
  ['', 'Any decision'],
  ['ok', 'Allowed, ok'],
  ['error', 'Allowed, failed'],
  ['denied', 'Denied'],
  ['rate-limited', 'Rate-limited'],
];

/** What was decided of a call, from its outcome: allowed (it ran), denied or rate-limited. */
export function decisionOf(record) {
  if (record.outcome === 'denied') return 'denied';
  if (record.outcome === 'rate-limited') return 'rate-limited';
  return 'allowed';
}

const DECISION_CLASS = { allowed: 'st-up', denied: 'st-down', 'rate-limited': 'st-degraded' };
const DECISION_GLYPH = { allowed: '✓', denied: '✕', 'rate-limited': '!' };

function decisionBadge(record) {
  const decision = decisionOf(record);
  return h('span', { class: `badge ${DECISION_CLASS[decision]}`, dataset: { decision } },
    h('span', { 'aria-hidden': 'true' }, DECISION_GLYPH[decision]), decision);
}

/** The outcome of a call that ran: `ok`, or `error` with its message. */
function outcomeCell(record) {
  if (record.outcome === 'ok') return h('span', { class: 'audit-ok' }, 'ok');
  const why = record.message ? h('span', { class: 'audit-message' }, rich(record.message)) : null;
  if (record.outcome === 'error') return [h('span', { class: 'audit-error' }, 'error'), why ? [': ', why] : null];
  return why ?? '—';
}

/** The tool, or the API route, with where it went. */
function toolCell(record) {
  return [
    h('code', { class: 'audit-tool' }, record.tool),
    record.surface === 'api' ? h('span', { class: 'muted small' }, ' API') : null,
  ];
}

function hashCell(record) {
  const sha = record.arguments_sha256 ?? '';
  return h('code', { class: 'audit-hash', title: `SHA-256 of the arguments: ${sha}` }, sha.slice(0, 12));
}

export function render(main) {
  main.classList.add('wide');
  const client = h('select', { id: 'audit-client', 'aria-label': 'Only the calls of this client' },
    h('option', { value: '' }, 'Any client'), CLIENTS.map((c) => h('option', { value: c }, c)));
  const decision = h('select', { id: 'audit-decision', 'aria-label': 'Only the calls with this decision' },
    DECISIONS.map(([value, label]) => h('option', { value }, label)));
  const message = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite', id: 'audit-message' });
  const form = tokenPrompt('audit-token-input', () => {
    form.hidden = true;
    message.textContent = 'Token saved for this tab.';
    load();
  });
  form.hidden = true;
  const summary = h('p', { class: 'muted', id: 'audit-summary' });
  const body = h('div', { id: 'audit-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const more = h('button', { type: 'button', class: 'button small secondary', id: 'audit-more', hidden: true }, 'Show more');
  main.append(
    h('h1', null, 'Audit log'),
    h('p', { class: 'muted' }, rich('Every MCP tool call (IZA’s own and the hub’s) and every API call that may change something: '
      + 'who made it, what it called, what was decided and how it ended. Arguments are never shown here, only their SHA-256 '
      + '(identical calls share it); `iza audit` prints them, secrets masked.')),
    h('div', { class: 'toolbar', role: 'search' }, h('label', null, 'Client ', client), h('label', null, 'Decision ', decision)),
    h('div', { class: 'run-now' }, form, message),
    summary,
    h('section', { class: 'panel' }, body, more),
  );

  let closed = false;
  let limit = PAGE;
  let inFlight = false;
  let again = false;
  let refused = false;

  async function load() {
    if (closed) return;
    if (inFlight) { again = true; return; }
    inFlight = true;
    const filters = { client: client.value, outcome: decision.value, limit };
    let page;
    try {
      page = await api.audit(filters, savedToken());
    } catch (e) {
      inFlight = false;
      if (closed) return;
      // The filters changed meanwhile: this answer is stale, ask again.
      if (again) { again = false; load(); return; }
      if (e.status === 401 || e.status === 403) {
        // Polling stops until a token is given: each poll would be refused the same way.
        refused = true;
        summary.textContent = '';
        more.hidden = true;
        body.replaceChildren(h('p', { class: 'audit-needs-token' },
          rich(`The audit log shows who did what: it needs the admin token (\`iza token\` prints it). The server said: ${e.reason ?? e.message}.`)));
        form.hidden = false;
        message.textContent = '';
      } else {
        body.replaceChildren(failure('the audit log', e));
      }
      return;
    }
    inFlight = false;
    refused = false;
    if (closed) return;
    if (again) { again = false; load(); return; }
    draw(page.records ?? [], page.next != null);
  }

  function draw(records, hasMore) {
    const filtered = client.value || decision.value;
    if (!records.length) {
      summary.textContent = '';
      more.hidden = true;
      body.replaceChildren(h('p', { class: 'muted', id: 'audit-empty' }, filtered
        ? 'No call matches these filters.'
        : 'No call recorded yet: MCP tool calls and API calls that change something appear here.'));
      return;
    }
    const count = (d) => records.filter((r) => decisionOf(r) === d).length;
    const errors = records.filter((r) => r.outcome === 'error').length;
    summary.replaceChildren(`The ${records.length} most recent${filtered ? ' matching' : ''} calls: `,
      `${count('denied')} denied, ${count('rate-limited')} rate-limited, ${errors} failed. `,
      h('span', { class: 'small' }, 'Refreshed ', timeEl(Date.now()), `, every ${POLL_MS / 1000} s.`));
    body.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'data audit-table', id: 'audit-table' },
      h('caption', { class: 'visually-hidden' }, 'Audit log, newest first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Client'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Upstream'), h('th', { scope: 'col' }, 'Tool or route'),
        h('th', { scope: 'col' }, 'Decision'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Duration'),
        h('th', { scope: 'col', class: 'hide-narrow' }, 'Outcome'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Arguments'))),
      h('tbody', null, records.map((r) => h('tr', { dataset: { audit: r.id, client: r.client, decision: decisionOf(r), outcome: r.outcome } },
        h('td', { class: 'nowrap audit-time' }, timeEl(r.at)),
        h('td', { class: 'audit-client' }, r.client, r.scope && r.scope !== r.client ? h('span', { class: 'muted small' }, ` (${r.scope})`) : null),
        h('td', { class: 'hide-narrow' }, r.upstream ?? '—'),
        h('td', { class: 'audit-what' }, toolCell(r),
          // On a phone the upstream, duration and outcome go under the tool.
          h('div', { class: 'audit-narrow-only small' },
            r.upstream ? `via ${r.upstream} · ` : null, ms(r.duration_ms),
            r.outcome !== 'ok' && r.message ? [' · ', outcomeCell(r)] : null)),
        h('td', { class: 'audit-decision' }, decisionBadge(r)),
        h('td', { class: 'num hide-narrow nowrap' }, ms(r.duration_ms)),
        h('td', { class: 'hide-narrow audit-outcome' }, outcomeCell(r)),
        h('td', { class: 'hide-narrow' }, hashCell(r))))))));
    more.hidden = !hasMore || limit >= MAX_ROWS;
  }

  for (const select of [client, decision]) {
    select.addEventListener('change', () => { limit = PAGE; load(); });
  }
  more.addEventListener('click', () => { limit = Math.min(MAX_ROWS, limit + PAGE); load(); });
  const timer = setInterval(() => {
    if (!closed && !refused && !document.hidden) load();
  }, POLL_MS);
  load();
  return () => { closed = true; clearInterval(timer); };
}

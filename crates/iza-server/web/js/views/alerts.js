// The Alerts page (`#/alerts`, docs/alerts.md): the alerts grouped by where they are — firing,
// acknowledged, silenced (suppressed by a silence or maintenance), resolved — each with its
// root cause, the services it impacts and its delivery log (on demand); an "Acknowledge"
// button on open ones; the silences with a form to create one and an "End" button on each.
// Buttons that change something carry the API token (token.js): refused once (401), the
// token is asked for, then pressed again. The page reloads when an alert or notification
// event arrives (debounced).

import { api } from '../api.js';
import { live } from '../live.js';
import { h, timeEl, ago, serviceHref, failure, rich, setRich } from '../dom.js';
import { savedToken, tokenPrompt } from '../token.js';

export const title = () => 'Alerts';

const GROUPS = [
  { key: 'firing', title: 'Firing', empty: 'Nothing is firing.' },
  { key: 'acknowledged', title: 'Acknowledged', empty: 'No open alert is acknowledged.' },
  { key: 'silenced', title: 'Silenced', empty: 'No alert is silenced.' },
  { key: 'pending', title: 'Pending', empty: 'No alert is waiting out its rule’s delay (for).' },
  { key: 'resolved', title: 'Resolved', empty: 'No alert resolved recently.' },
];

/** Where an alert goes on this page. */
export function groupOf(alert) {
  if (alert.state === 'resolved') return 'resolved';
  if (alert.state === 'pending') return 'pending';
  if (alert.suppressed_by) return 'silenced';
  if (alert.acknowledged_at != null) return 'acknowledged';
  return 'firing';
}

function severityBadge(severity) {
  const colour = { critical: 'down', warning: 'degraded', info: 'unknown' }[severity] ?? 'unknown';
  return h('span', { class: `badge st-${colour}`, dataset: { severity } }, severity);
}

function matcherText(m) {
  return ['service', 'group', 'tag', 'rule'].filter((k) => m?.[k]).map((k) => `${k}=${m[k]}`).join(', ');
}

export function render(main) {
  main.classList.add('wide');
  const message = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite', id: 'alerts-message' });
  const form = tokenPrompt('alerts-token-input', () => { form.hidden = true; message.textContent = 'Token saved for this tab; press the button again.'; });
  form.hidden = true;
  const body = h('div', { id: 'alerts-body' }, h('p', { class: 'muted' }, 'Loading…'));
  const silences = h('div', { id: 'silences-body' });
  main.append(
    h('h1', null, 'Alerts'),
    h('p', { class: 'muted' }, 'One alert per root cause: the service that is down, with the services it impacts. ',
      'Acknowledging stops reminders and escalation.'),
    h('div', { class: 'run-now' }, form, message),
    body,
    h('section', { class: 'panel section', 'aria-labelledby': 'h-silences' },
      h('h2', { id: 'h-silences' }, 'Silences'), silenceForm(), silences),
  );
  let closed = false;

  /** Runs `call` with the saved token; a 401 shows the token form. True when it was done. */
  async function withToken(what, call) {
    message.textContent = `${what}…`;
    try {
      await call(savedToken());
      message.textContent = `${what}: done.`;
      load();
      return true;
    } catch (e) {
      if (e.status === 401) {
        setRich(message, `Refused: ${e.reason ?? e.message}. Enter the API token (\`iza token\` prints it).`);
        form.hidden = false;
        form.querySelector('input').focus();
      } else {
        setRich(message, `${what} failed: ${e.message}`);
      }
      return false;
    }
  }

  function alertRow(alert) {
    const deliveries = h('div', { class: 'deliveries' });
    const open = alert.state !== 'resolved';
    return h('article', { class: 'panel alert-card', dataset: { alert: alert.id, group: groupOf(alert) } },
      h('h3', null, severityBadge(alert.severity), ' ',
        h('a', { href: serviceHref(alert.service) }, alert.service), ` ${open ? 'is' : 'was'} ${alert.status}`,
        h('span', { class: 'muted' }, ` — alert #${alert.id}, rule “${alert.rule}”`)),
      alert.impacted?.length
        ? h('p', { class: 'impacted' }, `Impacted (${alert.impacted.length}): `,
          alert.impacted.map((s, i) => [i ? ', ' : '', h('a', { href: serviceHref(s) }, s)]))
        : h('p', { class: 'muted' }, 'It impacts no other service.'),
      alert.reason ? h('p', { class: 'muted alert-reason' }, rich(alert.reason)) : null,
      h('p', { class: 'muted' }, 'Since ', timeEl(alert.started_at), ` (${ago(alert.started_at)})`,
        alert.resolved_at != null ? [', resolved ', timeEl(alert.resolved_at)] : null,
        alert.acknowledged_by ? `, acknowledged by ${alert.acknowledged_by}` : null,
        alert.suppressed_by ? `, suppressed by ${alert.suppressed_by}` : null,
        alert.escalated_to?.length ? `, escalated to ${alert.escalated_to.join(' → ')}` : null),
      h('p', { class: 'actions' },
        open && alert.acknowledged_at == null
          ? h('button', { type: 'button', class: 'button small', dataset: { ack: alert.id }, 'aria-label': `Acknowledge alert #${alert.id} (${alert.service})`,
            onclick: () => withToken(`Acknowledging alert #${alert.id}`, (token) => api.ack(alert.id, token, 'the dashboard')) }, 'Acknowledge')
          : null,
        ' ',
        h('button', { type: 'button', class: 'button small secondary', dataset: { deliveries: alert.id },
          'aria-label': `Deliveries of alert #${alert.id}`, onclick: async () => {
          try {
            const full = await api.alert(alert.id);
            deliveries.replaceChildren(deliveryTable(full.deliveries ?? []));
          } catch (e) { deliveries.replaceChildren(failure('the deliveries', e)); }
        } }, 'Deliveries')),
      deliveries);
  }

  function silenceForm() {
    const field = (name, label, attrs = {}) => h('label', null, label, ' ', h('input', { name, ...attrs }));
    const kind = h('select', { name: 'kind', 'aria-label': 'Match on' },
      ['service', 'group', 'tag', 'rule'].map((k) => h('option', { value: k }, k)));
    const f = h('form', { class: 'silence-form', id: 'silence-form' },
      kind, ' = ', h('input', { name: 'value', required: true, 'aria-label': 'Value', placeholder: 'db' }), ' ',
      field('duration', 'for', { value: '2h', size: 5, required: true }), ' ',
      field('created_by', 'by', { required: true, placeholder: 'your name' }), ' ',
      field('comment', 'why', { required: true, placeholder: 'upgrade' }), ' ',
      h('button', { type: 'submit', class: 'button small' }, 'Silence'));
    f.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(f);
      const body = {
        matchers: { [data.get('kind')]: String(data.get('value')).trim() },
        duration: String(data.get('duration')).trim(),
        created_by: String(data.get('created_by')).trim(),
        comment: String(data.get('comment')).trim(),
      };
      // Made: the form is emptied for the next one (the duration back to its default).
      if (await withToken(`Silencing ${matcherText(body.matchers)}`, (token) => api.createSilence(body, token))) f.reset();
    });
    return f;
  }

  async function load() {
    let list, sil;
    try {
      [list, sil] = await Promise.all([api.alerts(), api.silences()]);
    } catch (e) {
      if (closed) return;
      body.replaceChildren(e.code === 'no-alerts'
        ? h('p', { class: 'muted' }, 'This server runs no alerting.')
        : failure('the alerts', e));
      return;
    }
    if (closed) return;
    const groups = Object.fromEntries(GROUPS.map((g) => [g.key, []]));
    for (const alert of list.alerts ?? []) groups[groupOf(alert)].push(alert);
    body.replaceChildren(...GROUPS.map((g) => h('section', { class: 'section alert-group', dataset: { group: g.key }, 'aria-labelledby': `h-alerts-${g.key}` },
      h('h2', { id: `h-alerts-${g.key}` }, `${g.title} (${groups[g.key].length})`),
      groups[g.key].length ? groups[g.key].map(alertRow) : h('p', { class: 'muted' }, g.empty))));
    const now = Date.now();
    const rows = (sil.silences ?? []).filter((s) => s.ends_at > now);
    silences.replaceChildren(rows.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'silences-table' },
        h('caption', { class: 'visually-hidden' }, 'Silences in force or to come'),
        // On a phone the number, start and author give way, so that End stays in view.
        h('thead', null, h('tr', null, [['#', true], ['Matches'], ['From', true], ['Until'], ['By', true], ['Why'], ['']]
          .map(([t, narrow]) => h('th', { scope: 'col', class: narrow ? 'hide-narrow' : null }, t)))),
        h('tbody', null, rows.map((s) => h('tr', { dataset: { silence: s.id } },
          h('td', { class: 'hide-narrow' }, String(s.id)), h('td', null, matcherText(s.matchers)),
          h('td', { class: 'hide-narrow' }, timeEl(s.starts_at)), h('td', null, timeEl(s.ends_at)),
          h('td', { class: 'hide-narrow' }, s.created_by), h('td', null, s.comment),
          h('td', null, h('button', { type: 'button', class: 'button small secondary', dataset: { endSilence: s.id }, 'aria-label': `End silence #${s.id}`,
            onclick: () => withToken(`Ending silence #${s.id}`, (token) => api.deleteSilence(s.id, token)) }, 'End')))))))
      : h('p', { class: 'muted' }, 'No silence is in force.'));
  }

  let timer = null;
  const unsubscribe = live.subscribe((change) => {
    if (change.type !== 'event') return;
    const kind = change.event.kind ?? '';
    if (!kind.startsWith('alert') && !kind.startsWith('notification') && !kind.startsWith('silence')) return;
    clearTimeout(timer);
    timer = setTimeout(() => { if (!closed) load(); }, 300);
  });
  load();
  return () => { closed = true; clearTimeout(timer); unsubscribe(); };
}

function deliveryTable(rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'No delivery yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('caption', { class: 'visually-hidden' }, 'Delivery log'),
    h('thead', null, h('tr', null, ['When', 'Transition', 'Notifier', 'State', 'Attempts', 'Latency', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows.map((d) => h('tr', null,
      h('td', null, timeEl(d.at)), h('td', null, d.transition), h('td', null, d.notifier),
      h('td', null, d.state), h('td', null, String(d.attempts)),
      h('td', null, d.latency_ms == null ? '—' : `${Math.round(d.latency_ms)} ms`),
      h('td', null, rich(d.error ?? '')))))));
}

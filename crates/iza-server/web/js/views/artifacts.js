// What a service's failed browser checks saw (`/api/v1/services/{id}/artifacts`): the last
// failed runs, newest first, each with why it failed, its screenshots, the journey's steps
// and the console's last lines. Shown on the service page of a browser check.

import { api } from '../api.js';
import { h, ms, timeEl, failure } from '../dom.js';

export function artifactsPanel(id) {
  const list = h('div', { id: 'service-artifacts' });
  const element = h('section', { class: 'panel section', 'aria-labelledby': 'h-artifacts' },
    h('h2', { id: 'h-artifacts' }, 'Failed browser checks'), list);
  let shown = '';

  const refresh = async () => {
    let data;
    try {
      data = await api.artifacts(id);
    } catch (e) {
      list.replaceChildren(failure('the failed runs', e));
      return;
    }
    const key = (data.runs ?? []).map((r) => r.id).join(',');
    if (key === shown && list.childElementCount) return;
    shown = key;
    if (!data.runs?.length) {
      list.replaceChildren(h('p', { class: 'muted' }, 'No failed run kept.'));
      return;
    }
    list.replaceChildren(
      h('p', { class: 'muted' }, `The last ${data.keep} failed runs are kept.`),
      ...data.runs.map((run) => h('details', { class: 'artifact', open: run === data.runs[0] },
        h('summary', null, timeEl(run.at), ' — ', run.message ?? 'failed'),
        run.comparison ? comparison(run.comparison) : null,
        run.screenshots.length
          ? h('div', { class: 'shots' }, run.screenshots.map((name) => {
            const src = api.artifactUrl(id, run.id, name);
            return h('figure', null, h('a', { href: src, target: '_blank', rel: 'noopener' },
              h('img', { src, alt: `Screenshot ${name} of ${id}`, loading: 'lazy', width: 320 })),
            h('figcaption', null, name));
          }))
          : null,
        run.steps.length
          ? h('ol', { class: 'steps' }, run.steps.map((s) => h('li', { class: s.error ? 'failed' : null },
            h('code', null, s.step), ` ${ms(s.duration_ms)}`, s.error ? [' — ', s.error] : null)))
          : null,
        run.console.length
          ? h('pre', { class: 'console', 'aria-label': 'Console' }, run.console.join('\n'))
          : h('p', { class: 'muted' }, 'The console was quiet.'))));
  };

  return { element, refresh };
}

// What a failed comparison found, above its three screenshots (original, replica, diff).
function comparison(c) {
  const pct = (n) => `${Math.round(n * 100) / 100} %`;
  return h('div', { class: 'comparison' },
    h('dl', { class: 'facts' },
      h('dt', null, 'Pixels differing'), h('dd', null, pct(c.pixel_diff)),
      h('dt', null, 'Text similarity'), h('dd', null, pct(c.text_similarity)),
      h('dt', null, 'Missing links'), h('dd', null, String(c.missing_link_count))),
    c.missing_links.length
      ? h('ul', { class: 'missing-links', 'aria-label': 'Links the replica lacks' },
        c.missing_links.map((l) => h('li', null, h('code', null, l))))
      : null);
}

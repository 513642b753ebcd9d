// The process panel of a service's page when `iza up` supervises it: its state, pid,
// restarts and last exit; Start, Stop and Restart buttons (calls that change something need
// the API token: asked for once, kept for this browser tab only); and its output, live, from
// `/api/v1/services/{id}/logs/stream`. Under `iza serve`, or for a service without a
// `command`, the panel says so and shows nothing else.

import { api } from '../api.js';
import { h, timeEl, ago, rich, setRich } from '../dom.js';
import { savedToken, tokenPrompt } from '../token.js';

/** Lines of output kept on the page. */
const MAX_LINES = 500;

const STATE_WORDS = {
  pending: 'Pending', starting: 'Starting', running: 'Running', ready: 'Ready',
  exited: 'Exited', backoff: 'Restarting soon', failed: 'Failed', stopped: 'Stopped',
};

/** The panel of service `id`: `{ element, close() }`. */
export function processPanel(id) {
  const facts = h('div', { id: 'process-facts' });
  const message = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const tokenForm = tokenPrompt('token-input', () => { tokenForm.hidden = true; message.textContent = 'Token saved for this tab; try again.'; });
  tokenForm.hidden = true;
  const buttons = ['start', 'stop', 'restart'].map((verb) =>
    h('button', { type: 'button', class: 'button', dataset: { action: verb }, onclick: () => act(verb) },
      verb[0].toUpperCase() + verb.slice(1)));
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': `Process of ${id}` }, buttons);
  const output = h('pre', { class: 'log', id: 'process-log', role: 'log', 'aria-live': 'off', 'aria-label': `Output of ${id}`, tabindex: '0' });
  const element = h('section', { class: 'panel section', id: 'process', 'aria-labelledby': 'process-title' },
    h('h2', { id: 'process-title' }, 'Process'), facts, controls, tokenForm, message, output);
  let stream = null;
  let closed = false;

  const refresh = async () => {
    let process;
    try {
      process = await api.process(id);
    } catch (e) {
      if (!closed) setRich(message, `Could not read the process: ${e.message}`);
      return;
    }
    if (closed) return;
    if (process.unsupervised) {
      // Not run here: say why, and hide what cannot be used.
      facts.replaceChildren(h('p', { class: 'muted', id: 'process-none' }, process.unsupervised === 'no-supervisor'
        ? 'This server only watches (`iza serve`): it runs no processes. `iza up` starts the services that have a `command`.'
        : 'No `command` in the manifest: this service runs elsewhere and is only probed.'));
      controls.hidden = true;
      output.hidden = true;
      return;
    }
    draw(process);
    if (!stream) follow();
  };

  const draw = (p) => {
    const exit = p.last_exit;
    facts.replaceChildren(h('dl', { class: 'kv' },
      h('dt', null, 'State'), h('dd', { dataset: { processState: p.state } }, STATE_WORDS[p.state] ?? p.state),
      h('dt', null, 'PID'), h('dd', { class: 'mono' }, p.pid ?? '—'),
      h('dt', null, 'Restarts'), h('dd', null, String(p.restarts)),
      h('dt', null, 'Started'), h('dd', null, p.started_at ? [timeEl(p.started_at), ` (${ago(p.started_at)})`] : '—'),
      exit ? [h('dt', null, 'Last exit'), h('dd', null, exit.message ? rich(exit.message) : (exit.code != null ? `status ${exit.code}` : `signal ${exit.signal}`))] : null,
      p.reason ? [h('dt', null, 'Why failed'), h('dd', null, rich(p.reason))] : null));
    const running = ['starting', 'running', 'ready'].includes(p.state);
    buttons[0].disabled = running;
    buttons[1].disabled = !running && p.state !== 'backoff';
    buttons[2].disabled = false;
  };

  const act = async (verb) => {
    buttons.forEach((b) => { b.disabled = true; });
    message.textContent = `${verb[0].toUpperCase() + verb.slice(1)}ing ${id}…`;
    try {
      const p = await api.act(id, verb, savedToken());
      message.textContent = `${id}: ${STATE_WORDS[p.state] ?? p.state}.`;
      draw(p);
    } catch (e) {
      if (e.status === 401) {
        setRich(message, `Refused: ${e.reason ?? e.message}. Enter the API token (\`iza token\` prints it).`);
        tokenForm.hidden = false;
        tokenForm.querySelector('input').focus();
      } else {
        setRich(message, `Could not ${verb} ${id}: ${e.message}`);
      }
      refresh();
    }
  };

  const follow = () => {
    stream = new EventSource(api.logStreamUrl(id, 200));
    stream.addEventListener('log', (event) => {
      const line = JSON.parse(event.data);
      const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
      output.append(h('span', { class: line.stream === 'stderr' ? 'err' : null }, line.text, '\n'));
      while (output.childNodes.length > MAX_LINES) output.firstChild.remove();
      if (atBottom) output.scrollTop = output.scrollHeight;
    });
    stream.addEventListener('skipped', (event) => {
      output.append(h('span', { class: 'muted' }, `… ${event.data} lines skipped …\n`));
    });
  };

  refresh();
  return {
    element,
    refresh,
    close() {
      closed = true;
      stream?.close();
    },
  };
}

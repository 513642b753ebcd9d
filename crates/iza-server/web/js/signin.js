// The sign-in form, shown when the server protects reads (`iza serve --protect-reads`) and the
// browser has not signed in: the API token goes to `POST /api/v1/session` once, which answers
// it as an HttpOnly cookie that every later read (the event stream included) carries; the
// token is also kept for this tab, for the buttons that change something.

import { h, rich, setRich } from './dom.js';
import { saveToken } from './token.js';

export function showSignIn(main) {
  const input = h('input', { type: 'password', id: 'signin-token', autocomplete: 'off', required: true, 'aria-label': 'API token' });
  const message = h('p', { role: 'alert', class: 'muted' });
  const form = h('form', { class: 'panel token-form', id: 'signin', onsubmit: async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    const response = await fetch('/api/v1/session', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    if (response.ok) {
      saveToken(token);
      location.reload();
      return;
    }
    const body = await response.json().catch(() => ({}));
    setRich(message, `Refused: ${body.error?.reason ?? response.statusText}.`);
    input.select();
  } },
  h('label', { for: 'signin-token' }, 'API token '), input, h('button', { type: 'submit' }, 'Sign in'));
  // The page's own view may still add its failure box: the style hides all but this.
  main.replaceChildren(h('div', { id: 'signin-page' },
    h('h1', null, 'Sign in'),
    h('p', null, rich('This server protects its data: enter its API token (`iza token` prints it).')),
    form, message));
  input.focus();
}

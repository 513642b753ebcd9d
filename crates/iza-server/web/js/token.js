// The API token of the buttons that change something (a process's Start/Stop/Restart, a task's
// Run now): kept in this tab's `sessionStorage` only (gone when the tab closes), asked for the
// first time the server refuses a call (401). Reads never need it here (see signin.js).

import { h } from './dom.js';

const TOKEN_KEY = 'iza-token';

/** The token saved for this tab, or null. */
export function savedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

/** Keeps `token` for this tab. */
export function saveToken(token) {
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* storage disabled */ }
}

/** The form that keeps the token for this tab; `saved()` is called once it is kept. Its input
 *  has the id `inputId` (a page may hold two forms). */
export function tokenPrompt(inputId, saved) {
  const input = h('input', { type: 'password', id: inputId, autocomplete: 'off', 'aria-label': 'API token', placeholder: 'API token' });
  return h('form', { class: 'token-form', onsubmit: (event) => {
    event.preventDefault();
    if (input.value.trim()) saveToken(input.value.trim());
    input.value = '';
    saved();
  } }, input, h('button', { type: 'submit', class: 'button' }, 'Use token'));
}

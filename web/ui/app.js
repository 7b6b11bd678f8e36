// The dashboard's shell: the key gate, the navigation and the hash router (#/profile, ...).
// Pages are modules with `render(main)`; they call the API themselves and show a refused call
// where it happened, except a refused key (401), which sends the operator back to the prompt.

import { api, ApiError, session } from './api.js';
import { h } from './dom.js';
import * as apps from './page-apps.js';
import * as profile from './page-profile.js';
import * as models from './page-models.js';
import * as experiments from './page-experiments.js';
import * as monitoring from './page-monitoring.js';
import * as fairness from './page-fairness.js';
import * as explorer from './page-explorer.js';

const PAGES = [
  ['apps', 'Apps', apps],
  ['profile', 'Data profile', profile],
  ['models', 'Models', models],
  ['experiments', 'Experiments', experiments],
  ['monitoring', 'Monitoring', monitoring],
  ['fairness', 'Fairness', fairness],
  ['explorer', 'Explorer', explorer],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('session');

/** The key prompt, alone on the page: shown when the API wants a key and has none (or refused it). */
function prompt(message) {
  nav.hidden = true;
  who.replaceChildren();
  const input = h('input', { type: 'password', id: 'key', autocomplete: 'off', placeholder: 'API key', required: true });
  const form = h('form', { id: 'key-form', class: 'key-form' },
    h('h1', {}, 'attune dashboard'),
    h('p', {}, 'This server requires an API key. It is kept in this tab only (sessionStorage) and sent in the X-Api-Key header.'),
    message ? h('div', { class: 'error', role: 'alert', id: 'key-error' }, message) : null,
    h('label', { for: 'key' }, 'API key '), input, ' ', h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.setKey(input.value.trim());
    start();
  });
  main.replaceChildren(form);
  input.focus();
}

function signOut() {
  session.setKey('');
  start();
}

function showNav() {
  nav.replaceChildren(...PAGES.map(([id, title]) => h('a', { href: `#/${id}`, 'data-page': id }, title)));
  nav.hidden = false;
  who.replaceChildren(h('span', { class: 'muted' }, `app: ${session.app()}`));
  if (session.key()) who.append(h('button', { type: 'button', id: 'sign-out', onclick: signOut }, 'Forget key'));
}

let ready = false;

async function route() {
  if (!ready) return;
  const id = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'profile';
  const page = PAGES.find((p) => p[0] === id) || PAGES[1];
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === page[0]);
  const el = h('div', { class: 'page', id: `page-${page[0]}` }, h('h1', {}, page[1]));
  main.replaceChildren(el);
  document.body.dataset.state = 'loading';
  try {
    await page[2].render(el);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      ready = false;
      prompt(`The key was refused (401): ${e.message}`);
      return;
    }
    el.append(h('div', { class: 'error', role: 'alert' }, String(e && e.message ? e.message : e)));
  }
  document.body.dataset.state = 'ready';
}

/**
 * Ask the API whether it will answer with the key we have (none, at first): a 401 means auth is
 * required and the key is missing or wrong, and nothing but the prompt is shown.
 */
async function start() {
  ready = false;
  main.replaceChildren(h('p', { class: 'muted' }, 'Connecting…'));
  try {
    await api('/v1/items?limit=1');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      prompt(session.key() ? `The key was refused (401): ${e.message}` : '');
      document.body.dataset.state = 'key';
      return;
    }
    // Another refusal (403: no read scope on this app, 404: unknown app) is shown by the
    // pages themselves; the Apps page lets the operator pick another app.
  }
  ready = true;
  showNav();
  await route();
}

window.addEventListener('hashchange', route);
window.addEventListener('attune:app', () => { showNav(); route(); });
start();

// Apps: which apps this deployment hosts and which one the dashboard looks at (X-Attune-App).

import { api, ApiError, session } from './api.js';
import { h, note, section } from './dom.js';

function use(name) {
  session.setApp(name);
  window.dispatchEvent(new Event('attune:app'));
}

export async function render(el) {
  const input = h('input', { id: 'app-name', value: session.app(), size: 24 });
  el.append(section('Current app',
    h('p', {}, 'Every page shows the app named here; the API receives it as X-Attune-App.'),
    h('form', { onsubmit: (ev) => { ev.preventDefault(); use(input.value.trim() || 'default'); } },
      input, ' ', h('button', { type: 'submit' }, 'Use'))));
  let apps;
  try {
    apps = (await api('/v1/apps')).apps;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401 || e.status >= 500) throw e;
    el.append(section('Apps', note(`Listing apps needs an admin key on every app (${e.status}: ${e.message}). Type the app's name above.`)));
    return;
  }
  el.append(section(`Apps (${apps.length})`,
    h('ul', { class: 'apps' }, apps.map((name) => h('li', {},
      h('button', { type: 'button', class: name === session.app() ? 'current' : '', onclick: () => use(name) }, name),
      name === session.app() ? h('span', { class: 'muted' }, ' (shown)') : null)))));
}

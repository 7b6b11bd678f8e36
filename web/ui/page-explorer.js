// Explorer: one user as the engine sees them — their latest events and the list they get now,
// each item with the reason shown to them. The list is a real serve (logged as impressions).

import { api, query } from './api.js';
import { errorBox, h, note, num, section, table } from './dom.js';

async function show(out, user) {
  out.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  const [events, list] = await Promise.allSettled([
    api(`/v1/users/${encodeURIComponent(user)}/events${query({ limit: 20 })}`),
    api(`/v1/users/${encodeURIComponent(user)}/recommendations${query({ n: 10 })}`),
  ]);
  for (const r of [events, list]) if (r.status === 'rejected' && r.reason.status === 401) throw r.reason;
  out.replaceChildren(
    section('Their list now',
      list.status === 'rejected' ? errorBox(list.reason) : h('div', {},
        h('p', { class: 'muted' }, `source ${list.value.source}, model ${list.value.model_version === null ? '–' : `v${list.value.model_version}`}, recommendation_id ${list.value.recommendation_id}`),
        table(['#', 'item', 'title', 'score', 'why'], list.value.items.map((it, i) => [
          i + 1, it.item_id, it.title || '', num(it.score, 3), h('span', { class: 'reason' }, it.explanation.text)]), { id: 'list' }))),
    section('Recent history',
      events.status === 'rejected' ? errorBox(events.reason)
        : events.value.events.length
          ? table(['time', 'type', 'item', 'details'], events.value.events.slice().reverse().map((e) => [
            h('span', { class: 'nowrap' }, e.timestamp.replace('T', ' ')), e.type, h('span', { class: 'nowrap' }, e.item_id || '–'),
            h('code', {}, JSON.stringify({ ...(e.properties || {}), ...(e.context || {}) }))]), { id: 'history' })
          : note('No stored events for this user.')));
}

export async function render(el) {
  const input = h('input', { id: 'user-id', placeholder: 'user id', size: 28 });
  const out = h('div', { id: 'explorer-out' });
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  el.append(h('form', { id: 'explorer-form', onsubmit: (ev) => {
    ev.preventDefault();
    const user = input.value.trim();
    if (!user) return;
    history.replaceState(null, '', `#/explorer?user=${encodeURIComponent(user)}`);
    show(out, user).catch((e) => out.replaceChildren(errorBox(e)));
  } }, h('label', { for: 'user-id' }, 'User '), input, ' ', h('button', { type: 'submit' }, 'Show')), out);
  if (params.get('user')) {
    input.value = params.get('user');
    await show(out, input.value);
  } else {
    out.append(note('Type a user id to see their history and their list with the reasons.'));
  }
}

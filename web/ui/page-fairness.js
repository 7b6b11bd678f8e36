// Fairness: who gets seen in the lists served lately — exposure by item popularity group
// against the group's share of the catalogue — and, per user group, who clicks.

import { api, query } from './api.js';
import { bars } from './charts.js';
import { cards, h, note, num, pct, section, table } from './dom.js';

/** The user grouping to compare, from the address (`#/fairness?user_groups=attr:gender`). */
function userGroups() {
  return new URLSearchParams(location.hash.split('?')[1] || '').get('user_groups') || '';
}

export async function render(el) {
  const groups = userGroups();
  const f = await api(`/v1/fairness${query({ user_groups: groups })}`);
  const input = h('input', { id: 'user-groups', value: groups, placeholder: 'attr:gender', size: 20 });
  el.append(h('form', { onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = `#/fairness${query({ user_groups: input.value.trim() })}`;
  } }, h('label', { for: 'user-groups' }, 'Compare users by '), input, ' ', h('button', { type: 'submit' }, 'Compare')));
  const x = f.exposure;
  el.append(h('p', { class: 'muted' }, `${num(f.lists)} lists served in the last ${num(f.window_secs / 3600, 1)} h; items grouped by ${f.item_groups}.`));
  if (!f.lists) {
    el.append(note('No list was served in the window.'));
    return;
  }
  el.append(cards([
    ['exposure gap', num(x.gap)],
    ['ratio gap', num(x.ratio_gap)],
    ['item exposure Gini', num(x.gini)],
  ]));
  el.append(section('Exposure share by item group',
    bars(x.groups.flatMap((g) => [
      { label: `${g.label} shown`, value: g.share },
      { label: `${g.label} catalogue`, value: g.catalogue_share },
    ]), { label: 'exposure share against catalogue share', fmt: (v) => `${Math.round(100 * v)}%` }),
    table(['group', 'items', 'exposure', 'share', 'catalogue share', 'ratio', 'recommended rate'],
      x.groups.map((g) => [g.label, g.items, num(g.exposure, 2), pct(g.share), pct(g.catalogue_share), num(g.ratio), pct(g.recommended_rate)]))));
  el.append(section('Users',
    f.users && f.users.length
      ? table(['group', 'users', 'lists', 'impressions', 'clicks', 'CTR'], f.users.map((u) => [u.label, u.users, u.lists, u.impressions, u.clicks, pct(u.ctr)]))
      : note('Name a profile attribute above (attr:<name>) to compare CTR by user group (docs/fairness.md).')));
}

// Data profile: what training sees (GET /v1/profile, the report `attune profile` prints):
// volume over time, how activity is spread over users and items, and how much is cold.

import { api } from './api.js';
import { bars, lines } from './charts.js';
import { cards, h, note, num, pct, section, table } from './dom.js';

const binLabel = (b) => (b.min === b.max ? `${b.min}` : `${b.min}–${b.max}`);

export async function render(el) {
  const p = await api('/v1/profile');
  el.append(cards([
    ['events', num(p.events)],
    ['interactions', num(p.interactions)],
    ['users', num(p.users)],
    ['catalog items', num(p.catalog_items)],
    ['density', pct(p.density)],
    ['catalog coverage', pct(p.catalog_coverage)],
    ['last 7 days', pct(p.share_last_7_days)],
  ]));

  el.append(section('Events per day (UTC)',
    p.events_per_day.length
      ? lines([{ name: 'events', points: p.events_per_day.map((d) => [Date.parse(`${d.day}T00:00:00Z`), d.events]) }],
        { label: 'events per day', gapMs: 86_400_000 })
      : note('No events yet.'),
    h('p', { class: 'muted' }, `From ${p.first_event || '–'} to ${p.last_event || '–'} (${num(p.span_days, 1)} days).`)));

  el.append(section('Interactions per user',
    p.users_by_activity.length
      ? bars(p.users_by_activity.map((b) => ({ label: binLabel(b), value: b.count })), { label: 'users by interactions' })
      : note('No users yet.'),
    h('p', { class: 'muted' }, `Median ${num(p.per_user.median, 1)}, p90 ${num(p.per_user.p90, 1)}, max ${num(p.per_user.max)}; Gini ${num(p.per_user.gini)}.`)));

  el.append(section('Interactions per item',
    p.items_by_activity.length
      ? bars(p.items_by_activity.map((b) => ({ label: binLabel(b), value: b.count })), { label: 'items by interactions' })
      : note('No items yet.'),
    h('p', { class: 'muted' }, `Median ${num(p.per_item.median, 1)}, p90 ${num(p.per_item.p90, 1)}, max ${num(p.per_item.max)}; Gini ${num(p.per_item.gini)} (never-touched catalog items count 0).`)));

  el.append(section(`Cold start (fewer than ${p.cold_threshold} interactions)`,
    bars([
      { label: 'cold users', value: p.cold_users_share },
      { label: 'cold items', value: p.cold_items_share },
    ], { label: 'cold-start shares', fmt: (v) => `${+(100 * v).toFixed(1)}%` }),
    table(['', 'cold', 'share'], [
      ['users', p.cold_users, pct(p.cold_users_share)],
      ['items', p.cold_items, pct(p.cold_items_share)],
    ])));

  el.append(section('Events by type',
    table(['type', 'events'], Object.entries(p.events_by_type).map(([t, n]) => [t, n]))));

  el.append(section('Algorithms to try first',
    h('ol', {}, p.recommended_algorithms.map((a) =>
      h('li', {}, h('strong', {}, a.algorithm), ` — ${a.title}`,
        h('ul', {}, a.reasons.map((r) => h('li', {}, r))))))));
}

// Experiments: each experiment's result (every variant against the control, with confidence
// intervals and the decision in words) and its metrics day by day (GET /v1/outcomes grouped
// by variant), so a reader sees both the verdict and whether it is stable.

import { api, ApiError, query } from './api.js';
import { intervals, lines } from './charts.js';
import { errorBox, h, note, num, pct, section, table, time } from './dom.js';

const DAY_MS = 86_400_000;
const DAYS = 7;

/** CTR per variant per day over the last week: one /v1/outcomes call per day. */
async function overTime(name) {
  const now = Date.now();
  const byVariant = new Map();
  for (let d = DAYS - 1; d >= 0; d--) {
    const until = now - d * DAY_MS;
    const o = await api(`/v1/outcomes${query({
      group: 'variant', experiment: name,
      since: new Date(until - DAY_MS).toISOString(), until: new Date(until).toISOString(),
    })}`);
    for (const g of o.groups) {
      if (!byVariant.has(g.group)) byVariant.set(g.group, []);
      byVariant.get(g.group).push([until, g.ctr]);
    }
  }
  return [...byVariant].map(([variant, points]) => ({ name: variant, points }));
}

async function experiment(e) {
  const box = section(`${e.name} — ${e.status}, phase ${e.phase || '–'}, layer ${e.layer}`,
    h('p', { class: 'muted' }, `Started ${time(e.started_micros)}${e.stopped_micros ? `, stopped ${time(e.stopped_micros)}` : ''}.`));
  if (e.status === 'draft') {
    box.append(note('A draft: no results until it is started.'));
    return box;
  }
  let r;
  try {
    r = await api(`/v1/experiments/${encodeURIComponent(e.name)}/results`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      box.append(note(err.message));
      return box;
    }
    throw err;
  }
  box.append(h('p', { class: 'decision' }, r.decision));
  box.append(table(['variant', 'share', 'users', 'lists', 'impressions', 'clicks', 'purchases', 'buyers', 'revenue'],
    r.variants.map((v) => [v.name, pct(v.share), v.users, v.lists, v.impressions, v.clicks, v.purchases, v.converted_users, num(v.revenue, 2)])));
  if (r.srm) {
    box.append(h('p', { class: r.srm.mismatch ? 'error' : 'muted' },
      `Sample-ratio check: χ² ${num(r.srm.chi2)}, p ${num(r.srm.p_value, 4)}${r.srm.mismatch ? ' — mismatch: the split is broken, do not trust the result' : ''}.`));
  }
  for (const [metric, results] of Object.entries(r.metrics)) {
    box.append(h('h3', {}, `${metric}: lift against ${r.control}`));
    box.append(intervals(results.map((m) => ({ label: m.variant, estimate: m.lift.estimate, low: m.lift.low, high: m.lift.high })),
      { label: `${metric} lift with confidence intervals`, fmt: (v) => `${(100 * v).toFixed(1)}%` }));
    box.append(table(['variant', 'control', 'value', 'difference [interval]', 'lift [interval]', 'p (Holm)', 'P(beats control)', 'decision'],
      results.map((m) => [m.variant, num(m.control_value, 4), num(m.value, 4),
        `${num(m.difference.estimate, 4)} [${num(m.difference.low, 4)}, ${num(m.difference.high, 4)}]`,
        `${pct(m.lift.estimate)} [${pct(m.lift.low)}, ${pct(m.lift.high)}]`,
        num(m.p_adjusted, 4), m.prob_beats_control === undefined ? '–' : pct(m.prob_beats_control), m.decision])));
  }
  const series = (await overTime(e.name)).filter((x) => x.points.length);
  box.append(h('h3', {}, `CTR per day, last ${DAYS} days`));
  box.append(series.length ? lines(series, { label: 'CTR per variant per day', fmt: (v) => `${(100 * v).toFixed(1)}%`, gapMs: DAY_MS }) : note('No lists served in the last week.'));
  return box;
}

export async function render(el) {
  const { experiments } = await api('/v1/experiments');
  if (!experiments.length) {
    el.append(note('No experiments yet (POST /v1/experiments, docs/experiments.md).'));
    return;
  }
  el.append(table(['name', 'layer', 'status', 'phase', 'buckets', 'created (UTC)'],
    experiments.map((e) => [e.name, e.layer, e.status, e.phase || '–', e.buckets ? `${e.buckets[0]}–${e.buckets[1]}` : '–', time(e.created_micros)])));
  for (const e of experiments) {
    try {
      el.append(await experiment(e));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) throw err;
      el.append(section(e.name, errorBox(err)));
    }
  }
}

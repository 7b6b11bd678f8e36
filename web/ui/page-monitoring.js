// Monitoring: how served lists do now (online quality), how that moved (the CTR series the
// monitoring ticks recorded), whether the data drifted from the active model's training
// data, and which alerts fire. Parts the key or the data cannot give say why, in place.

import { api, ApiError, query } from './api.js';
import { lines } from './charts.js';
import { errorBox, h, note, num, section, table, time } from './dom.js';

const labelText = (labels) => Object.entries(labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '(all)';

/** A part of the page: its content, or the refusal in its place (a 401 goes to the prompt). */
async function part(title, build) {
  try {
    return section(title, ...[await build()].flat());
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    const text = e instanceof ApiError && e.status === 409 ? note(e.message) : errorBox(e);
    return section(title, text);
  }
}

async function quality() {
  const q = await api('/v1/monitor/quality');
  const shown = ['lists', 'impressions', 'users', 'ctr', 'coverage', 'latency_p99_ms'];
  const rows = q.series.map((s) => [labelText(s.labels), ...shown.map((m) => {
    const f = s.figures.find((x) => x[0] === m);
    return f ? num(f[1], 4) : '–';
  })]);
  return [
    h('p', { class: 'muted' }, `Lists served from ${time(q.since_micros)} to ${time(q.until_micros)} (UTC).`),
    rows.length ? table(['series', ...shown], rows) : note('No list served in the window.'),
    q.series.length ? h('details', {}, h('summary', {}, 'every figure'), table(['series', 'metric', 'value'],
      q.series.flatMap((s) => s.figures.map(([m, v]) => [labelText(s.labels), m, num(v, 4)])))) : null,
  ];
}

async function ctrSeries() {
  const since = new Date(Date.now() - 7 * 86_400_000).toISOString();
  const r = await api(`/v1/monitor/series${query({ metric: 'ctr', since })}`);
  const series = r.series
    .filter((s) => s.points.length)
    .map((s) => ({ name: labelText(s.labels), points: s.points.map(([at, v]) => [at / 1000, v]) }));
  return series.length
    ? lines(series, { label: 'CTR over the last week', fmt: (v) => `${(100 * v).toFixed(1)}%` })
    : note('No point recorded yet: monitoring ticks record one per interval ([monitor]).');
}

async function drift() {
  const d = await api('/v1/monitor/drift');
  return [
    h('p', { class: d.drift_detected ? 'error' : 'ok' },
      d.drift_detected ? `Drift detected against model v${d.model_version}.` : `No drift against model v${d.model_version}.`,
      ` ${num(d.events)} events from ${time(d.since_micros)}; reference ${time(d.reference_since_micros)} to ${time(d.reference_until_micros)}.`),
    table(['feature', 'kind', 'PSI', 'KS', 'KS p', 'status'],
      d.features.map((f) => [f.feature, f.kind, num(f.psi, 4), num(f.ks_statistic, 4), num(f.ks_p_value, 4), f.status])),
  ];
}

async function alerts() {
  const a = (await api('/v1/alerts')).alerts;
  return a.length
    ? table(['rule', 'labels', 'state', 'severity', 'value', 'since (UTC)', 'summary'],
      a.map((x) => [x.rule, labelText(x.labels), x.state, x.severity, num(x.value, 4), time(x.since_micros), (x.annotations || {}).summary || '']))
    : note('No alert has fired.');
}

export async function render(el) {
  el.append(await part('Online quality', quality));
  el.append(await part('CTR over time', ctrSeries));
  el.append(await part('Drift', drift));
  el.append(await part('Alerts', alerts));
}

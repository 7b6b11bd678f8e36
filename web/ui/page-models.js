// Models: every registered version with its validation metrics, which one serves, and the two
// operations an operator needs in a hurry: activate a version, roll back (admin key).

import { api } from './api.js';
import { errorBox, h, note, num, section, table, time } from './dom.js';

function metrics(m) {
  const entries = Object.entries(m || {});
  if (!entries.length) return '–';
  return h('span', { class: 'metrics' }, entries.map(([k, v]) => h('span', {}, `${k} ${num(v, 4)}`)));
}

export async function render(el) {
  const status = h('div', { id: 'models-status', role: 'status' });
  el.append(status);
  const body = h('div');
  el.append(body);

  async function act(path, what) {
    status.replaceChildren(h('p', { class: 'muted' }, `${what}…`));
    try {
      const r = await api(path, { method: 'POST' });
      await draw();
      status.replaceChildren(h('p', { class: 'ok' }, `${what}: ${r.name} is active${r.changed ? '' : ' (it already was)'}.`));
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  }

  async function draw() {
    const { models, active } = await api('/v1/models');
    const rows = models.slice().reverse().map((m) => {
      const isActive = active && active.version === m.version;
      return [
        h('span', { class: isActive ? 'badge active' : 'badge' }, m.name),
        isActive ? 'active' : m.status,
        m.algorithm,
        h('span', { class: 'nowrap' }, time(m.created_micros)),
        metrics(m.metrics),
        isActive
          ? ''
          : h('button', { type: 'button', 'data-activate': m.name, onclick: () => act(`/v1/models/${m.name}/activate`, `Activate ${m.name}`) }, 'Activate'),
      ];
    });
    body.replaceChildren(
      section('Serving',
        active
          ? h('p', {}, `Active: v${String(active.version).padStart(4, '0')} since ${time(active.since_micros)}`,
            active.rollback_to ? ` (rollback goes to v${String(active.rollback_to).padStart(4, '0')})` : '')
          : note('No version is active.'),
        h('button', { type: 'button', id: 'rollback', disabled: !(active && active.rollback_to), onclick: () => act('/v1/models/rollback', 'Roll back') }, 'Roll back')),
      section(`Versions (${models.length})`,
        models.length ? table(['version', 'status', 'algorithm', 'created (UTC)', 'validation metrics', ''], rows, { id: 'models-table' }) : note('No version registered yet: train one (attune train, POST /v1/models/train).')));
    const rollouts = (await api('/v1/models/rollouts')).rollouts;
    body.append(section('Guarded rollouts',
      rollouts.length
        ? table(['canary', 'incumbent', 'verdict', 'why', 'started (UTC)', 'decided (UTC)'], rollouts.map((r) => [
          `v${r.canary}`, `v${r.incumbent}`, typeof r.verdict === 'string' ? r.verdict : JSON.stringify(r.verdict), r.reason, time(r.started_micros), time(r.decided_micros)]))
        : note('No guarded rollout (promote "canary") has run.')));
  }

  await draw();
}

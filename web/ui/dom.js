// Building the page without HTML strings: every text goes in through textContent, so nothing
// the API returns (item titles, user ids, alert annotations) can inject markup.

/** An element: `h('td', {class: 'num'}, 'text', childNode, ...)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A table: `columns` are header texts, `rows` arrays of cells (text or nodes). */
export function table(columns, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', typeof c === 'number' ? { class: 'num' } : {}, c))))));
}

/** A titled block of a page. */
export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}

/** Key figures in a row of cards. */
export function cards(pairs) {
  return h('div', { class: 'cards' }, pairs.map(([label, value]) =>
    h('div', { class: 'card' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label))));
}

/** What a refused call means, in a box (the API's own detail). */
export function errorBox(e) {
  const status = e && e.status ? `${e.status} ` : '';
  return h('div', { class: 'error', role: 'alert' }, `${status}${e && e.message ? e.message : e}`);
}

/** A note for an empty or unavailable part. */
export function note(text) {
  return h('p', { class: 'muted' }, text);
}

export const pct = (x) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);

export function num(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (Number.isInteger(x)) return x.toLocaleString('en');
  return Number(x).toFixed(digits);
}

/** UTC micros as a readable UTC time. */
export function time(micros) {
  if (micros === null || micros === undefined) return '–';
  return new Date(micros / 1000).toISOString().replace('T', ' ').slice(0, 19);
}

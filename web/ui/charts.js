// Hand-drawn SVG charts: bars, lines over time and confidence intervals. Small on purpose
// (no chart library to vendor); every label is text content, sized by the view box.

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const PAD = { left: 56, right: 12, top: 12, bottom: 40 };
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(label) {
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
}

/** A "nice" upper bound for an axis. */
function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function yAxis(svg, lo, hi, fmt) {
  const ih = H - PAD.top - PAD.bottom;
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    const y = PAD.top + ih - (ih * k) / 4;
    svg.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmt(v)));
  }
}

const plain = (v) => (Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : `${+v.toFixed(3)}`);

/** Vertical bars: `data` is `[{label, value}]`. */
export function bars(data, { label = 'bar chart', fmt = plain } = {}) {
  const svg = frame(label);
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  yAxis(svg, 0, max, fmt);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const bw = iw / Math.max(1, data.length);
  const every = Math.ceil(data.length / 8);
  data.forEach((d, i) => {
    const bh = (ih * d.value) / max;
    const x = PAD.left + i * bw;
    const bar = s('rect', { x: x + bw * 0.1, y: PAD.top + ih - bh, width: Math.max(1, bw * 0.8), height: bh, class: 'bar' });
    bar.append(s('title', {}, `${d.label}: ${d.value}`));
    svg.append(bar);
    if (i % every === 0) {
      svg.append(s('text', { x: x + bw / 2, y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, d.label));
    }
  });
  return svg;
}

/**
 * Lines over time: `series` is `[{name, points: [[epochMillis, value]]}]`. Points further apart
 * than `gapMs` are not joined: no line is drawn across a stretch without data.
 */
export function lines(series, { label = 'line chart', fmt = plain, gapMs = Infinity } = {}) {
  const svg = frame(label);
  const all = series.flatMap((x) => x.points);
  const xs = all.map((p) => p[0]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const max = niceMax(Math.max(0, ...all.map((p) => p[1])));
  yAxis(svg, 0, max, fmt);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const X = (t) => PAD.left + (x1 > x0 ? ((t - x0) / (x1 - x0)) * iw : iw / 2);
  const Y = (v) => PAD.top + ih - (ih * v) / max;
  const ends = x1 > x0 ? [[x0, 'start'], [(x0 + x1) / 2, 'middle'], [x1, 'end']] : [[x0, 'middle']];
  for (const [t, anchor] of ends) {
    const day = new Date(t).toISOString().slice(0, 10);
    svg.append(s('text', { x: X(t), y: H - PAD.bottom + 16, 'text-anchor': anchor, class: 'tick' }, day));
  }
  series.forEach((line, k) => {
    const color = COLORS[k % COLORS.length];
    const d = line.points.map((p, i) => {
      const join = i > 0 && p[0] - line.points[i - 1][0] <= gapMs;
      return `${join ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
    }).join('');
    svg.append(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
    for (const p of line.points) svg.append(s('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: color }));
    svg.append(s('text', { x: PAD.left + 8 + 140 * k, y: H - 6, fill: color, class: 'legend' }, line.name));
  });
  return svg;
}

/** Estimates with their intervals against a zero line: `rows` is `[{label, estimate, low, high}]`. */
export function intervals(rows, { label = 'confidence intervals', fmt = plain } = {}) {
  const rowH = 28;
  const h = PAD.top + rows.length * rowH + 24;
  const svg = s('svg', { viewBox: `0 0 ${W} ${h}`, class: 'chart', role: 'img', 'aria-label': label });
  const finite = rows.flatMap((r) => [r.low, r.high, r.estimate]).filter(Number.isFinite);
  const span = Math.max(1e-9, ...finite.map(Math.abs)) * 1.1;
  const left = 160;
  const iw = W - left - PAD.right;
  const X = (v) => left + ((Math.max(-span, Math.min(span, v)) + span) / (2 * span)) * iw;
  svg.append(s('line', { x1: X(0), x2: X(0), y1: PAD.top - 4, y2: h - 20, class: 'zero' }));
  for (const [v, anchor] of [[-span, 'start'], [0, 'middle'], [span, 'end']]) {
    svg.append(s('text', { x: X(v), y: h - 6, 'text-anchor': anchor, class: 'tick' }, fmt(v)));
  }
  rows.forEach((r, i) => {
    const y = PAD.top + i * rowH + rowH / 2;
    svg.append(s('text', { x: left - 8, y: y + 4, 'text-anchor': 'end', class: 'tick' }, r.label));
    if (Number.isFinite(r.low) && Number.isFinite(r.high)) {
      svg.append(s('line', { x1: X(r.low), x2: X(r.high), y1: y, y2: y, class: 'interval' }));
    }
    if (Number.isFinite(r.estimate)) {
      const dot = s('circle', { cx: X(r.estimate), cy: y, r: 4, class: 'estimate' });
      dot.append(s('title', {}, `${r.label}: ${fmt(r.estimate)} [${fmt(r.low)}, ${fmt(r.high)}]`));
      svg.append(dot);
    }
  });
  return svg;
}

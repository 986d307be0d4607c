// The balance-over-time chart: a step line of an account's balance after
// each posting, drawn as inline SVG (no library, nothing from another
// origin, no inline style: colours come from app.css). Amounts stay decimal
// strings: they become numbers only to place pixels. Every figure shown
// (tick labels, the summary, the table) is formatted from the strings, or
// from exact BigInt arithmetic on them. For screen readers the drawing is
// one image with a summary, and a visually hidden table lists the points.

import { dateTime, h, title as capitalised } from './dom.js';
import { compareAmounts, formatMoney, fromUnits, isNegative, scaleOf, toUnits } from './money.js';

const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 240;
const MARGIN = { top: 14, right: 18, bottom: 30 };
const MIN_WIDTH = 260;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** An SVG element (the dom.js `h` makes HTML ones). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function floorDiv(a, b) {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

function ceilDiv(a, b) {
  const q = a / b;
  return a % b > 0n ? q + 1n : q;
}

/** The smallest 1, 2 or 5 times a power of ten that is at least `raw` (BigInt units). */
function niceStep(raw) {
  if (raw < 1n) return 1n;
  let magnitude = 1n;
  while (magnitude * 10n <= raw) magnitude *= 10n;
  return [1n, 2n, 5n, 10n].map((m) => m * magnitude).find((step) => step >= raw);
}

/**
 * About `count` round tick values (decimal strings) spanning the amounts
 * and zero, computed exactly on BigInt units: valueTicks(["0.00",
 * "121.50"]) -> ["0.00", "50.00", "100.00", "150.00"].
 */
export function valueTicks(amounts, count = 4) {
  const scale = scaleOf(amounts);
  const units = amounts.map((a) => toUnits(a, scale));
  const lo = units.reduce((min, u) => (u < min ? u : min), 0n);
  let hi = units.reduce((max, u) => (u > max ? u : max), 0n);
  // Only zero: a range of one whole unit, so the line sits at the bottom.
  if (lo === hi) hi = lo + 10n ** BigInt(scale);
  const step = niceStep((hi - lo) / BigInt(count));
  const ticks = [];
  for (let v = floorDiv(lo, step) * step; v <= ceilDiv(hi, step) * step; v += step) ticks.push(fromUnits(v, scale));
  return ticks;
}

/** Round instants between `start` and `end` (ms), at most about `max`, with their label. */
export function timeTicks(start, end, max) {
  const span = end - start;
  const most = Math.max(2, max);
  if (span >= 2 * DAY) {
    const days = [1, 2, 7, 14, 30, 61, 91, 182, 365].find((d) => span / (d * DAY) <= most) ?? Math.ceil(span / DAY / most);
    const first = new Date(start);
    first.setHours(0, 0, 0, 0);
    if (first.getTime() < start) first.setDate(first.getDate() + 1);
    const ticks = [];
    for (const d = first; d.getTime() <= end; d.setDate(d.getDate() + days)) ticks.push(d.getTime());
    const years = new Date(start).getFullYear() !== new Date(end).getFullYear();
    const options = years ? { year: 'numeric', month: 'short', day: 'numeric' } : { month: 'short', day: 'numeric' };
    return { ticks, label: (t) => new Date(t).toLocaleDateString(undefined, options) };
  }
  const steps = [1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * 60_000);
  const step = steps.find((st) => span / st <= most) ?? DAY;
  // Multiples of the step in local time.
  const offset = -new Date(start).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((start + offset) / step) * step - offset; t <= end; t += step) ticks.push(t);
  const options = span >= DAY / 2 ? { month: 'short', day: 'numeric', hour: 'numeric' } : { hour: 'numeric', minute: '2-digit' };
  return { ticks, label: (t) => new Date(t).toLocaleString(undefined, options) };
}

/** The lowest and highest of decimal strings, exactly. */
function extremes(amounts) {
  let low = amounts[0];
  let high = amounts[0];
  for (const a of amounts) {
    if (compareAmounts(a, low) < 0) low = a;
    if (compareAmounts(a, high) > 0) high = a;
  }
  return { low, high };
}

/** The words a screen reader hears for the whole chart. */
function summary({ points, opening, currency, period }) {
  const money = (a) => formatMoney(a, currency);
  if (!points.length) return `Balance ${period}: ${money(opening)} throughout, no changes.`;
  const { low, high } = extremes([opening, ...points.map((p) => p.balance)]);
  const changes = points.length === 1 ? '1 change' : `${points.length} changes`;
  return `Balance ${period}: from ${money(opening)} to ${money(points.at(-1).balance)}; lowest ${money(low)}, highest ${money(high)}; ${changes}.`;
}

const round = (v) => Math.round(v * 10) / 10;

/** The SVG for a chart model, `width` pixels wide. */
function drawing(model, width) {
  const { points, opening, currency, start, end, label } = model;
  const balances = [opening, ...points.map((p) => p.balance)];
  const ticks = valueTicks(balances, 4);
  const scale = scaleOf([...balances, ...ticks]);
  const lo = toUnits(ticks[0], scale);
  const hi = toUnits(ticks.at(-1), scale);
  const tickLabels = ticks.map((t) => formatMoney(t, currency));
  const left = 14 + 7 * Math.max(...tickLabels.map((t) => t.length));
  const plotWidth = width - left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const bottom = MARGIN.top + plotHeight;
  // Numbers only from here on, and only for positions.
  const x = (t) => round(left + ((t - start) / (end - start)) * plotWidth);
  const y = (amount) => round(MARGIN.top + (Number(hi - toUnits(amount, scale)) / Number(hi - lo)) * plotHeight);

  const grid = ticks.map((tick, i) => s('g', { class: compareAmounts(tick, '0') === 0 ? 'y-tick zero' : 'y-tick' },
    s('line', { x1: left, x2: left + plotWidth, y1: y(tick), y2: y(tick) }),
    s('text', { x: left - 8, y: y(tick), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, tickLabels[i])));
  const times = timeTicks(start, end, Math.floor(plotWidth / 95));
  const xAxis = times.ticks.map((t) => s('g', { class: 'x-tick' },
    s('line', { x1: x(t), x2: x(t), y1: bottom, y2: bottom + 5 }),
    s('text', { x: x(t), y: bottom + 18, 'text-anchor': 'middle' }, times.label(t))));

  let line = `M${x(start)},${y(opening)}`;
  for (const p of points) line += `H${x(p.time)}V${y(p.balance)}`;
  line += `H${x(end)}`;
  const zero = y(fromUnits(0n, scale));
  const area = `${line}V${zero}H${x(start)}Z`;

  return s('svg', {
    class: 'chart-svg', role: 'img', 'aria-label': label, viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT,
    focusable: 'false',
  },
  s('g', { class: 'grid' }, grid),
  s('line', { class: 'axis', x1: left, x2: left + plotWidth, y1: bottom, y2: bottom }),
  s('g', { class: 'x-axis' }, xAxis),
  s('path', { class: 'area', d: area }),
  s('path', { class: 'line', d: line }),
  s('g', { class: 'points' }, points.map((p) => s('circle', {
    class: 'point', cx: x(p.time), cy: y(p.balance), r: 3.5, 'data-balance': p.balance,
  }, s('title', {}, `${dateTime(p.at)}: ${formatMoney(p.balance, currency)}`)))),
  points.length ? null : s('text', { class: 'chart-empty', x: round(left + plotWidth / 2), y: round(MARGIN.top + plotHeight / 2), 'text-anchor': 'middle' },
    'No changes in this period'));
}

/** The visually hidden table of the points, for screen readers. */
function pointsTable({ points, currency }) {
  // The wrapper hides it: a table is as wide as its content whatever its width says.
  return h('div', { class: 'visually-hidden' }, h('table', { class: 'chart-table' },
    h('caption', { text: 'Balance after each change, oldest first' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Date' }), h('th', { scope: 'col', text: 'Change' }), h('th', { scope: 'col', text: 'Balance' }))),
    h('tbody', {}, points.map((p) => h('tr', {},
      h('td', { text: dateTime(p.at) }),
      h('td', { text: `${isNegative(p.change) ? '' : '+'}${formatMoney(p.change, currency)}` }),
      h('td', { text: formatMoney(p.balance, currency) }))))));
}

/**
 * A <figure> with the step chart of `points` ({at, change, balance},
 * oldest first) between `start` and `end` (Date or RFC 3339), starting at
 * the `opening` balance. `title` is the visible caption; `period` finishes
 * the spoken summary ("over the last 30 days"); `note` is shown under it.
 * It redraws itself to its width.
 */
export function balanceChart({ points, opening, currency, start, end, title, period, note }) {
  const timed = points.map((p) => ({ ...p, time: Date.parse(p.at) }));
  const first = timed[0]?.time ?? Infinity;
  const last = timed.at(-1)?.time ?? -Infinity;
  let from = Math.min(new Date(start).getTime(), first);
  const to = Math.max(new Date(end).getTime(), last);
  // At least an hour across, so one fresh posting still has room.
  if (to - from < HOUR) from = to - HOUR;
  const model = { points: timed, opening, currency, start: from, end: to, period };
  model.label = summary(model);
  const plot = h('div', { class: 'chart-plot' });
  let drawn = 0;
  const draw = (width) => {
    const w = Math.max(MIN_WIDTH, Math.floor(width));
    if (Math.abs(w - drawn) < 2) return;
    drawn = w;
    plot.replaceChildren(drawing(model, w));
  };
  draw(720);
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width;
      if (width > 0) draw(width);
    }).observe(plot);
  }
  return h('figure', { class: 'chart', dataset: { points: String(points.length) } },
    h('figcaption', {}, h('span', { class: 'chart-title', text: title }),
      h('span', { class: 'chart-summary', 'aria-hidden': 'true', text: capitalised(model.label.replace(/^Balance [^:]*: /, '')) })),
    plot,
    note ? h('p', { class: 'hint', text: note }) : null,
    pointsTable(model));
}

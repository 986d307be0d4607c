// Building DOM nodes without innerHTML: text is always set as text, so no
// server or user string can become markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<event>` handlers,
 * `dataset` (object), boolean attributes as true/false, others as strings.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short date and time in the reader's locale. */
export function dateTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A date in the reader's locale. */
export function dateOnly(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** YYYY-MM-DD (local) to the RFC 3339 instant of that local midnight, `daysLater` days on. */
export function startOfDay(date, daysLater = 0) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d + daysLater).toISOString();
}

/** A Date as the YYYY-MM-DD of its local day (the value of a date input). */
export function localDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Capitalises the first letter ("checking" -> "Checking"). */
export function title(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : '';
}

/** A 12-digit account number in groups of four, as printed on statements. */
export function groupedNumber(number) {
  return String(number).replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** A page heading with an optional subtitle and actions on the right. */
export function pageHead(heading, subtitle, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', { text: heading }), subtitle ? h('p', { text: subtitle }) : null),
    actions.length ? h('div', { class: 'form-actions' }, actions) : null);
}

/** A status badge whose colour follows the value. */
export function badge(value) {
  const tone = {
    active: 'good', verified: 'good', posted: 'good', accepted: 'good', admin: '',
    frozen: 'warn', pending: 'warn', unverified: 'muted', closed: 'muted', voided: 'muted', customer: 'muted',
    rejected: 'bad',
  }[value] ?? '';
  return h('span', { class: `badge ${tone}`, text: title(value) });
}

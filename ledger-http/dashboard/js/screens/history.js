// Transaction history: filters (account, kind, status, dates, amounts) kept
// in the address, so a filtered view can be bookmarked; cursor pagination;
// and a detail view per transaction.

import * as api from '../api.js';
import { accountLabel, accountOption } from '../account.js';
import { badge, dateTime, h, pageHead, replace, startOfDay, title } from '../dom.js';
import { field, handleSubmit, select } from '../forms.js';
import * as live from '../live.js';
import { formatMoney } from '../money.js';
import { go, link } from '../router.js';

const PAGE_SIZE = 20;
const FILTERS = ['account_id', 'kind', 'status', 'from', 'to', 'min_amount', 'max_amount'];
const PLAIN_AMOUNT = /^\d+(\.\d+)?$/;

// Cursors of the pages before the current one, for "Newer".
let trail = [];
let lastQuery = {};

function filterForm(accounts, query) {
  const input = (name, attrs = {}) => h('input', { name, value: query[name] ?? '', ...attrs });
  const form = h('form', { 'aria-label': 'Filter transactions', class: 'filters' },
    h('div', { class: 'row' },
      field('Account', select('account_id', [['', 'All accounts'], ...accounts.map((a) => [a.id, accountOption(a)])], { value: query.account_id ?? '' })),
      field('Kind', select('kind', [['', 'Any kind'], ['deposit', 'Deposit'], ['withdrawal', 'Withdrawal'], ['transfer', 'Transfer'], ['hold', 'Hold']], { value: query.kind ?? '' })),
      field('Status', select('status', [['', 'Any status'], ['posted', 'Posted'], ['pending', 'Pending'], ['voided', 'Voided']], { value: query.status ?? '' }))),
    h('div', { class: 'row' },
      field('From date', input('from', { type: 'date' })),
      field('To date (inclusive)', input('to', { type: 'date' })),
      field('Minimum amount', input('min_amount', { inputmode: 'decimal', placeholder: '0.00' })),
      field('Maximum amount', input('max_amount', { inputmode: 'decimal', placeholder: 'any' }))),
    h('div', { class: 'form-actions' },
      h('button', { class: 'button', type: 'submit', text: 'Apply filters' }),
      h('a', { class: 'button ghost', href: link('history'), text: 'Clear' })));
  handleSubmit(form, {
    validate: (data) => {
      const min = data.get('min_amount').trim();
      const max = data.get('max_amount').trim();
      const from = data.get('from');
      const to = data.get('to');
      return {
        min_amount: min && !PLAIN_AMOUNT.test(min) ? 'Enter a plain amount like 10 or 10.50.' : null,
        max_amount: max && !PLAIN_AMOUNT.test(max) ? 'Enter a plain amount like 10 or 10.50.' : null,
        to: from && to && to < from ? 'The end date is before the start date.' : null,
      };
    },
    submit: async (data) => {
      trail = [];
      const next = {};
      for (const name of FILTERS) next[name] = String(data.get(name) ?? '').trim();
      go('history', [], next);
    },
  });
  return form;
}

/** The API query for the filters in the address. */
function apiQuery(query) {
  return {
    account_id: query.account_id,
    kind: query.kind,
    status: query.status,
    from: query.from ? startOfDay(query.from) : '',
    to: query.to ? startOfDay(query.to, 1) : '',
    min_amount: query.min_amount,
    max_amount: query.max_amount,
    cursor: query.cursor,
    limit: query.limit || PAGE_SIZE,
  };
}

/** The signed amount from the reader's side: + into their accounts, − out of them. */
function signedAmount(t, mine) {
  const into = t.to_account_id && mine.has(t.to_account_id);
  const out = t.from_account_id && mine.has(t.from_account_id);
  const money = formatMoney(t.amount, t.currency);
  if (into && !out) return h('span', { class: 'credit', text: `+${money}` });
  if (out && !into) return h('span', { class: 'debit', text: `−${money}` });
  return h('span', { text: money });
}

function side(id, byId) {
  if (!id) return '';
  return byId.get(id) ? accountLabel(byId.get(id)) : 'Another customer';
}

/**
 * The transactions table (newest first), rows opening the detail view.
 * `byId` names accounts; `mine` holds the accounts whose side the signs take.
 */
export function transactionsTable(items, byId, mine, empty = 'No transactions match these filters.') {
  if (!items.length) return h('p', { class: 'empty', text: empty });
  return h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Transactions, newest first' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Date' }), h('th', { scope: 'col', text: 'Description' }),
      h('th', { scope: 'col', class: 'hide-narrow', text: 'Kind' }), h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', class: 'num', text: 'Amount' }))),
    h('tbody', {}, items.map((t) => {
      const href = link('history', [t.id]);
      const counterpart = t.to_account_id && mine.has(t.to_account_id) ? t.from_account_id : t.to_account_id;
      const what = t.description || (counterpart ? `${title(t.kind)} · ${side(counterpart, byId)}` : title(t.kind));
      return h('tr', { class: 'clickable', dataset: { transactionId: t.id, kind: t.kind }, onclick: () => { location.hash = href; } },
        h('td', { text: dateTime(t.created_at) }),
        h('td', {}, h('a', { href, text: what })),
        h('td', { class: 'hide-narrow', text: title(t.kind) }),
        h('td', {}, badge(t.status)),
        h('td', { class: 'num' }, signedAmount(t, mine)));
    }))));
}

async function list(main, query) {
  const [{ items: accounts }, page] = await Promise.all([api.get('/api/accounts'), api.get('/api/transactions', apiQuery(query))]);
  lastQuery = query;
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const mine = new Set(accounts.map((a) => a.id));
  // The page size (`limit`) rides along with the filters when paging.
  const filters = Object.fromEntries([...FILTERS, 'limit'].map((k) => [k, query[k] ?? '']));
  const newer = query.cursor ? h('button', {
    class: 'button ghost small', type: 'button', text: '← Newer',
    onclick: () => go('history', [], { ...filters, cursor: trail.pop() ?? '' }),
  }) : null;
  const older = page.next_cursor ? h('button', {
    class: 'button ghost small', type: 'button', text: 'Older →',
    onclick: () => { trail.push(query.cursor ?? ''); go('history', [], { ...filters, cursor: page.next_cursor }); },
  }) : null;
  const fresh = h('div', { role: 'status' });
  replace(main,
    pageHead('History', 'Newest first. Click a row for details.'),
    h('section', { class: 'panel' }, h('h2', { text: 'Filters' }), filterForm(accounts, query)),
    h('section', { class: 'panel', 'aria-label': 'Transactions' }, fresh, transactionsTable(page.items, byId, mine),
      h('div', { class: 'pager' }, h('span', { class: 'where', text: `${page.items.length} shown${query.cursor ? ' (older page)' : ''}` }), newer, older)));
  // New activity while reading the first page: offer to refresh rather than move rows under the cursor.
  return live.on('transaction', () => {
    replace(fresh, h('p', { class: 'notice' }, 'New activity. ',
      h('button', { class: 'link-button', type: 'button', text: 'Show it', onclick: () => go('history', [], { ...filters, cursor: '' }) })));
  });
}

async function detail(main, id) {
  const [t, { items: accounts }] = await Promise.all([api.get(`/api/transactions/${encodeURIComponent(id)}`), api.get('/api/accounts')]);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const mine = new Set(accounts.map((a) => a.id));
  const row = (label, value) => (value === null || value === undefined || value === '' ? null : [h('dt', { text: label }), h('dd', {}, value)]);
  replace(main,
    pageHead(`${title(t.kind)} ${formatMoney(t.amount, t.currency)}`, dateTime(t.created_at),
      h('a', { class: 'button ghost', href: link('history', [], lastQuery), text: '← Back to history' })),
    h('section', { class: 'panel' }, h('dl', { class: 'details' },
      row('Amount', signedAmount(t, mine)),
      row('Status', badge(t.status)),
      row('Kind', title(t.kind)),
      row('From', t.from_account_id ? side(t.from_account_id, byId) : null),
      row('To', t.to_account_id ? side(t.to_account_id, byId) : null),
      row('Description', t.description),
      row('Captured', t.captured_amount ? formatMoney(t.captured_amount, t.currency) : null),
      row('Hold expires', t.expires_at ? dateTime(t.expires_at) : null),
      row('Created', dateTime(t.created_at)),
      row('Last change', dateTime(t.updated_at)),
      row('Reference', h('code', { text: t.id })))));
}

/** Renders the list, or one transaction when `params[0]` is its id. */
export async function render(main, { params, query }) {
  if (params[0]) return detail(main, params[0]);
  if (!query.cursor) trail = [];
  return list(main, query);
}

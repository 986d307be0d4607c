// Transaction history: filters (account, kind, status, dates, amounts) kept
// in the address, so a filtered view can be bookmarked; cursor pagination;
// and a detail view per transaction (its postings, metadata and
// reversals), where admins can reverse it, whole or in part, after a
// confirmation.

import * as api from '../api.js';
import { accountLabel, accountOption } from '../account.js';
import { badge, dateTime, h, pageHead, replace, startOfDay, title } from '../dom.js';
import { IdempotencyKeys, field, handleSubmit, select, setFieldError } from '../forms.js';
import * as live from '../live.js';
import { checkAmount, compareAmounts, formatMoney, negate, plainAmount, sumAmounts } from '../money.js';
import { problemText } from '../problems.js';
import { go, link } from '../router.js';
import { announce } from '../status.js';
import { decidesHold, holdPanel } from './hold.js';

const PAGE_SIZE = 20;
/** Ledger accounts named on a detail view (one page; others are fetched one by one). */
const LEDGER_ACCOUNTS_PAGE = 100;
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
      field('Kind', select('kind', [['', 'Any kind'], ['deposit', 'Deposit'], ['withdrawal', 'Withdrawal'], ['transfer', 'Transfer'], ['hold', 'Hold'], ['reversal', 'Reversal'], ['entry', 'Entry']], { value: query.kind ?? '' })),
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
      const minOk = !min || PLAIN_AMOUNT.test(min);
      const maxOk = !max || PLAIN_AMOUNT.test(max);
      return {
        min_amount: minOk ? null : 'Enter a plain amount like 10 or 10.50.',
        max_amount: maxOk ? (min && max && minOk && compareAmounts(min, max) > 0 ? 'The maximum is below the minimum.' : null)
          : 'Enter a plain amount like 10 or 10.50.',
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

/** How the reader knows the account `id`: theirs by label, someone else's by name ("Alice N."). */
function side(id, byId, names = {}) {
  if (!id) return '';
  if (byId.get(id)) return accountLabel(byId.get(id));
  return names[id] ?? 'Another customer';
}

/** The transaction's date, short, on two lines that never wrap: "Dec 3, 2026" over "2:05 PM". */
function when(iso) {
  const date = new Date(iso);
  return h('time', { datetime: iso, class: 'when' },
    h('span', { class: 'when-date', text: date.toLocaleDateString(undefined, { dateStyle: 'medium' }) }),
    h('span', { class: 'when-time', text: date.toLocaleTimeString(undefined, { timeStyle: 'short' }) }));
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
      h('th', { scope: 'col', class: 'hide-narrow', text: 'Kind' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Status' }),
      h('th', { scope: 'col', class: 'num', text: 'Amount' }))),
    h('tbody', {}, items.map((t) => {
      const href = link('history', [t.id]);
      const into = t.to_account_id && mine.has(t.to_account_id);
      const counterpart = into ? t.from_account_id : t.to_account_id;
      const other = counterpart ? side(counterpart, byId, t.names) : '';
      const sub = other ? `${title(t.kind)} ${into ? 'from' : 'to'} ${other}` : title(t.kind);
      return h('tr', { class: 'clickable', dataset: { transactionId: t.id, kind: t.kind }, onclick: () => { location.hash = href; } },
        h('td', {}, when(t.created_at)),
        h('td', { class: 'what' }, h('a', { href, text: t.description || sub }),
          t.description ? h('div', { class: 'card-sub counterparty', text: sub }) : null,
          t.status !== 'posted' ? h('div', { class: 'show-narrow' }, badge(t.status)) : null),
        h('td', { class: 'hide-narrow', text: title(t.kind) }),
        h('td', { class: 'hide-narrow' }, badge(t.status)),
        h('td', { class: 'num' }, signedAmount(t, mine)));
    }))));
}

async function list(main, query) {
  const { items: accounts } = await api.get('/api/accounts');
  let page;
  let failure = null;
  try {
    page = await api.get('/api/transactions', apiQuery(query));
  } catch (error) {
    // Filters the server refuses (an address typed by hand) are the form's
    // error: the page, and the filters to correct, stay.
    if (error.status === 401 || error.status === 0 || error.status >= 500) throw error;
    failure = error;
    page = { items: [], next_cursor: null };
  }
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
  const form = filterForm(accounts, query);
  const active = FILTERS.filter((k) => query[k]).length;
  const narrow = window.matchMedia('(max-width: 760px)').matches;
  const filtersPanel = h('details', { class: 'panel filters-panel', open: !narrow || Boolean(failure) },
    h('summary', {}, h('h2', { text: active ? `Filters (${active} on)` : 'Filters' })), form);
  replace(main,
    pageHead('History', 'Newest first. Click a row for details.'),
    filtersPanel,
    h('section', { class: 'panel', 'aria-label': 'Transactions' }, fresh,
      failure ? h('p', { class: 'form-error', role: 'alert', text: problemText(failure) }) : transactionsTable(page.items, byId, mine),
      h('div', { class: 'pager' }, h('span', { class: 'where', text: `${page.items.length} shown${query.cursor ? ' (older page)' : ''}` }), newer, older)));
  if (failure) {
    const { min_amount: min, max_amount: max } = query;
    const inverted = PLAIN_AMOUNT.test(min ?? '') && PLAIN_AMOUNT.test(max ?? '') && compareAmounts(min, max) > 0;
    if (inverted) setFieldError(form, 'max_amount', 'The maximum is below the minimum.');
  }
  // New activity while reading the first page: offer to refresh rather than move rows under the cursor.
  return live.on('transaction', () => {
    replace(fresh, h('p', { class: 'notice' }, 'New activity. ',
      h('button', { class: 'link-button', type: 'button', text: 'Show it', onclick: () => go('history', [], { ...filters, cursor: '' }) })));
  });
}

/** How much of `t` reversals may move back in all (a captured hold: what was captured). */
function reversible(t) {
  return t.captured_amount ?? t.amount;
}

/**
 * Labels (and links) for the accounts of `t`'s postings: the reader's
 * own; for an admin also ledger accounts by code and customers' accounts.
 */
async function postingNames(t, accounts, user) {
  const names = new Map(accounts.map((a) => [a.id, { label: accountLabel(a), href: link('accounts', [a.id]) }]));
  const unknown = () => [...new Set(t.postings.flatMap((p) => [p.source_id, p.destination_id]))].filter((id) => !names.has(id));
  if (user.role === 'admin' && unknown().length) {
    const ledger = await api.get('/api/ledger-accounts', { limit: LEDGER_ACCOUNTS_PAGE }).catch(() => ({ items: [] }));
    for (const l of ledger.items) names.set(l.id, { label: `${l.name || l.code} (@${l.code})` });
    await Promise.all(unknown().map((id) => api.get(`/api/accounts/${encodeURIComponent(id)}`)
      .then((a) => names.set(a.id, { label: accountLabel(a), href: link('accounts', [a.id]) }))
      .catch(() => {})));
  }
  for (const id of unknown()) {
    const customer = id === t.from_account_id || id === t.to_account_id;
    names.set(id, { label: customer ? (t.names?.[id] ?? 'Another customer') : 'Ledger account' });
  }
  return names;
}

function postingsTable(t, names) {
  const name = (id) => {
    const { label, href } = names.get(id);
    return href ? h('a', { href, text: label }) : label;
  };
  return h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Postings' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'From (debited)' }), h('th', { scope: 'col', text: 'To (credited)' }),
      h('th', { scope: 'col', class: 'num', text: 'Amount' }))),
    h('tbody', {}, t.postings.map((p) => h('tr', { dataset: { source: p.source_id, destination: p.destination_id } },
      h('td', {}, name(p.source_id)),
      h('td', {}, name(p.destination_id)),
      h('td', { class: 'num', text: formatMoney(p.amount, p.currency) }))))));
}

function metadataList(metadata) {
  const entries = Object.entries(metadata ?? {});
  if (!entries.length) return h('span', { class: 'card-sub', text: 'None' });
  return h('dl', { class: 'details metadata' },
    entries.map(([key, value]) => [h('dt', {}, h('code', { text: key })), h('dd', { text: value })]));
}

/** "Reversed: $30.00 of $100.00 ($70.00 left)". */
function reversedText(t) {
  const money = (a) => formatMoney(a, t.currency);
  const left = sumAmounts([reversible(t), negate(t.reversed_amount)]);
  return compareAmounts(left, '0') > 0
    ? `${money(t.reversed_amount)} of ${money(reversible(t))} (${money(left)} left to reverse)`
    : `${money(t.reversed_amount)}, all of it`;
}

/**
 * The admin's Reverse action: how much (all that is left, or part of a
 * single-posting transaction) and why, then a confirmation that names the
 * amount, then one request with an Idempotency-Key. The server decides;
 * its problem `detail` is shown as it came.
 */
function reversePanel(t, onDone) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'reverse-h' }, h('h2', { id: 'reverse-h', text: 'Reverse' }));
  const left = t.reversed_amount ? sumAmounts([reversible(t), negate(t.reversed_amount)]) : reversible(t);
  if (compareAmounts(left, '0') <= 0) {
    section.append(h('p', { class: 'card-sub', text: 'All of it has been reversed.' }));
    return section;
  }
  const money = (a) => formatMoney(a, t.currency);
  const single = t.postings.length === 1;
  const choice = (value, text, checked) => h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'how', value, checked }), text);
  const amountField = field('Amount to reverse', h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' }),
    { hint: `In ${t.currency}, at most ${money(left)}.` });
  const form = h('form', { 'aria-label': 'Reverse this transaction' },
    h('p', { class: 'card-sub', text: 'Moves the money back in a new transaction of kind reversal. The accounts\' floors apply: what the recipient already spent cannot come back.' }),
    single
      ? h('fieldset', {}, h('legend', { text: 'How much' }),
        h('div', { class: 'row' }, choice('all', `All that is left (${money(left)})`, true), choice('part', 'Part of it', false)),
        amountField)
      : h('p', { text: `A transaction of ${t.postings.length} postings is reversed whole: every posting moves back.` }),
    field('Description (optional)', h('input', { name: 'description', maxlength: 256, autocomplete: 'off' }), { hint: 'Stored on the reversal, e.g. "Refund: duplicate payment".' }),
    h('div', { class: 'form-actions' }, h('button', { class: 'button danger', type: 'submit', text: 'Reverse' })));
  const sync = () => { amountField.hidden = form.elements.namedItem('how')?.value !== 'part'; };
  form.addEventListener('change', sync);
  sync();
  const keys = new IdempotencyKeys();
  const path = `/api/transactions/${encodeURIComponent(t.id)}/reverse`;

  const confirmStep = (body) => {
    const what = body.amount
      ? `${plainAmount(body.amount, t.currency)} ${t.currency}`
      : `${t.reversed_amount ? 'all ' : ''}${plainAmount(left, t.currency)} ${t.currency}${t.reversed_amount ? ' left' : ''}`;
    const question = h('p', { class: 'confirm-question', id: 'reverse-question', tabindex: '-1', text: `Reverse ${what} of this ${t.kind}?` });
    const cancel = h('button', { class: 'button ghost', type: 'button', text: 'Cancel' });
    const confirm = h('form', { class: 'confirm', 'aria-label': 'Confirm the reversal', 'aria-describedby': 'reverse-question' },
      question,
      h('p', { class: 'card-sub', text: 'The money moves back at once, and a reversal cannot itself be reversed.' }),
      h('div', { class: 'form-actions' }, h('button', { class: 'button danger', type: 'submit', text: 'Yes, reverse' }), cancel));
    cancel.addEventListener('click', () => {
      confirm.remove();
      form.hidden = false;
      form.querySelector('button[type="submit"]').focus();
    });
    handleSubmit(confirm, {
      submit: async () => {
        cancel.disabled = true;
        // A fresh key per confirmed submission; the same payload after a network failure keeps its key.
        const idempotencyKey = keys.keyFor([path, body]);
        try {
          const reversal = await api.post(path, body, { idempotencyKey });
          keys.settled();
          announce(`Reversed ${money(reversal.amount)}.`);
          await onDone(reversal);
        } catch (error) {
          if (error.status !== 0) keys.settled();
          throw error;
        } finally {
          cancel.disabled = false;
        }
      },
    });
    form.hidden = true;
    section.append(confirm);
    question.focus();
  };

  handleSubmit(form, {
    validate: (data) => ({
      amount: single && data.get('how') === 'part' ? checkAmount(data.get('amount'), t.currency) : null,
    }),
    submit: async (data) => {
      const body = {};
      if (single && data.get('how') === 'part') body.amount = data.get('amount').trim();
      const description = data.get('description').trim();
      if (description) body.description = description;
      confirmStep(body);
    },
  });
  section.append(form);
  return section;
}

async function detail(main, id, user, notice) {
  const [t, { items: accounts }] = await Promise.all([api.get(`/api/transactions/${encodeURIComponent(id)}`), api.get('/api/accounts')]);
  const [names, original] = await Promise.all([
    postingNames(t, accounts, user),
    t.reverses ? api.get(`/api/transactions/${encodeURIComponent(t.reverses)}`).catch(() => null) : null,
  ]);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const mine = new Set(accounts.map((a) => a.id));
  const row = (label, value) => (value === null || value === undefined || value === '' ? null : [h('dt', { text: label }), h('dd', {}, value)]);
  const reverses = t.reverses ? h('a', {
    href: link('history', [t.reverses]),
    text: original ? `${title(original.kind)} ${formatMoney(original.amount, original.currency)} of ${dateTime(original.created_at)}` : t.reverses,
  }) : null;
  const canReverse = user.role === 'admin' && t.status === 'posted' && t.kind !== 'reversal';
  replace(main,
    pageHead(`${title(t.kind)} ${formatMoney(t.amount, t.currency)}`, dateTime(t.created_at),
      h('a', { class: 'button ghost', href: link('history', [], lastQuery), text: '← Back to history' })),
    notice,
    h('section', { class: 'panel' }, h('dl', { class: 'details' },
      row('Amount', signedAmount(t, mine)),
      row('Status', badge(t.status)),
      row('Kind', title(t.kind)),
      row('From', t.from_account_id ? names.get(t.from_account_id)?.label ?? side(t.from_account_id, byId, t.names) : null),
      row('To', t.to_account_id ? names.get(t.to_account_id)?.label ?? side(t.to_account_id, byId, t.names) : null),
      row('Description', t.description),
      row('Reverses', reverses),
      row('Reversed', t.reversed_amount ? h('span', { class: 'reversed', text: reversedText(t) }) : null),
      row('Captured', t.captured_amount ? formatMoney(t.captured_amount, t.currency) : null),
      row('Hold expires', t.expires_at ? dateTime(t.expires_at) : null),
      row('Created', dateTime(t.created_at)),
      row('Last change', dateTime(t.updated_at)),
      row('Metadata', metadataList(t.metadata)),
      row('Reference', h('code', { text: t.id })))),
    t.postings?.length ? h('section', { class: 'panel', 'aria-labelledby': 'postings-h' },
      h('h2', { id: 'postings-h', text: t.postings.length === 1 ? 'Posting' : `Postings (${t.postings.length})` }),
      postingsTable(t, names)) : null,
    decidesHold(t, mine, user) ? holdPanel(t, async (done, verb) => {
      const note = h('div', { class: 'form-ok', role: 'status', tabindex: '-1' },
        `Hold ${verb}${verb === 'captured' ? `: ${formatMoney(done.captured_amount ?? done.amount, done.currency)}` : ''}.`);
      await detail(main, id, user, note);
      note.focus();
    }) : null,
    canReverse ? reversePanel(t, async (reversal) => {
      const done = h('div', { class: 'form-ok', role: 'status', tabindex: '-1' },
        `Reversed ${formatMoney(reversal.amount, reversal.currency)}. `,
        h('a', { href: link('history', [reversal.id]), text: 'Open the reversal' }));
      await detail(main, id, user, done);
      done.focus();
    }) : null);
}

/** Renders the list, or one transaction when `params[0]` is its id. */
export async function render(main, { user, params, query }) {
  if (params[0]) return detail(main, params[0], user);
  if (!query.cursor) trail = [];
  return list(main, query);
}

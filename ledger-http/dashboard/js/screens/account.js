// One account (`#/accounts/<id>?range=30d`): its balances, a chart of its
// balance over time drawn from the balance history (up to 500 changes for
// the chosen period), its recent transactions, and its statement for a
// chosen period downloaded as CSV, renaming and closing it. Live: a balance
// event for the account (money, a freeze, a rename) redraws it: the header's
// buttons, the status note and the forms follow the account's status
// without a reload. Admins reach customers' accounts here from the Admin
// screen.

import * as api from '../api.js';
import { accountLabel, statusText } from '../account.js';
import { balanceChart } from '../chart.js';
import { copyButton } from '../clipboard.js';
import { badge, dateOnly, groupedNumber, h, localDate, pageHead, replace, startOfDay, title } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import * as live from '../live.js';
import { formatMoney, negate, sumAmounts } from '../money.js';
import { link } from '../router.js';
import { announce } from '../status.js';
import { transactionsTable } from './history.js';

/** The chart's periods: [name in the address, label, days back (null: all)]. */
const RANGES = [['7d', 'Last 7 days', 7], ['30d', 'Last 30 days', 30], ['all', 'All time', null]];
const DEFAULT_RANGE = '30d';
const MAX_POINTS = 500;
const HISTORY_PAGE = 200;
const RECENT = 10;
const DAY = 86_400_000;

/** The balance history since `from` (all if empty), oldest first, at most MAX_POINTS (the newest). */
async function balancePoints(id, from) {
  const items = [];
  let cursor;
  do {
    const page = await api.get(`/api/accounts/${encodeURIComponent(id)}/balance-history`, {
      from, cursor, limit: Math.min(HISTORY_PAGE, MAX_POINTS - items.length),
    });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < MAX_POINTS);
  return { points: items.reverse(), truncated: Boolean(cursor) };
}

function figures(account) {
  const money = (a) => formatMoney(a, account.currency);
  const figure = (label, cls, value) => h('div', { class: 'figure' },
    h('div', { class: 'label-small', text: label }), h('div', { class: cls, text: value }));
  return h('div', { class: 'account-figures' },
    figure('Available', 'available', money(account.balance.available)),
    figure('Posted', 'posted', money(account.balance.posted)),
    figure('On hold', 'pending', money(account.balance.pending)),
    h('div', { class: 'figure' }, h('div', { class: 'label-small', text: 'Status' }), badge(account.status)),
    figure('Opened', 'opened', dateOnly(account.created_at)));
}

async function chart(account, range) {
  const [, label, days] = RANGES.find(([r]) => r === range);
  const now = new Date();
  const start = days ? new Date(now.getTime() - days * DAY) : new Date(account.created_at);
  const { points, truncated } = await balancePoints(account.id, days ? start.toISOString() : '');
  // The balance before the first change shown; with no change, the balance now held all along.
  const opening = points.length ? sumAmounts([points[0].balance, negate(points[0].change)]) : account.balance.posted;
  return balanceChart({
    points,
    opening,
    currency: account.currency,
    start: truncated ? points[0].at : start,
    end: now,
    title: `Posted balance, ${label.toLowerCase()}`,
    period: days ? `over the last ${days} days` : 'since the account opened',
    note: truncated ? `Showing the latest ${MAX_POINTS} changes.` : null,
  });
}

function rangeTabs(account, range) {
  return h('nav', { class: 'tabs', 'aria-label': 'Period of the chart' },
    RANGES.map(([r, text]) => h('a', { href: link('accounts', [account.id], { range: r }), 'aria-current': r === range ? 'page' : null, text })));
}

/** Saves a Blob under `name` through a temporary `<a download>` (no navigation, nothing inline). */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function statementForm(account) {
  const today = localDate(new Date());
  const form = h('form', { 'aria-label': 'Statement' },
    h('div', { class: 'row' },
      field('From date', h('input', { name: 'from', type: 'date', value: `${today.slice(0, 8)}01`, max: today }),
        { hint: 'Empty: since the account opened.' }),
      field('To date (inclusive)', h('input', { name: 'to', type: 'date', value: today }), { hint: 'Empty: up to now.' })),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Download statement (CSV)' })));
  handleSubmit(form, {
    validate: (data) => {
      const from = data.get('from');
      const to = data.get('to');
      return { to: from && to && to < from ? 'The end date is before the start date.' : null };
    },
    submit: async (data) => {
      const from = data.get('from');
      const to = data.get('to');
      const blob = await api.download(`/api/accounts/${encodeURIComponent(account.id)}/statement`, {
        format: 'csv', from: from ? startOfDay(from) : '', to: to ? startOfDay(to, 1) : '',
      });
      const name = `statement-${account.number}-${from || 'opening'}-to-${to || today}.csv`;
      save(blob, name);
      formMessage(form, 'ok', `Downloaded ${name}.`);
      announce('Statement downloaded.');
    },
    fieldOf: (error) => ({ invalid_period: 'from', statement_too_long: 'from' })[error.code],
  });
  return form;
}

/** The page's header: name, number, and the money buttons while the account is active. */
function head(account, own) {
  const active = account.status === 'active';
  return pageHead(account.name || `${title(account.kind)} account`,
    `${title(account.kind)} · ${account.currency} · ${groupedNumber(account.number)}`,
    copyButton(account.number, `account number ${groupedNumber(account.number)}`),
    own && active ? h('a', { class: 'button small', href: link('pay', ['deposit'], { account: account.id }), text: 'Deposit' }) : null,
    own && active ? h('a', { class: 'button small ghost', href: link('pay', ['transfer'], { account: account.id }), text: 'Transfer' }) : null,
    h('a', { class: 'button small ghost', href: own ? link('accounts') : link('admin'), text: own ? '← All accounts' : '← Admin' }));
}

/** The status note under the header (nothing while active). */
function statusNote(account) {
  const text = statusText(account);
  return text ? h('p', { class: 'notice status-note', role: 'status', dataset: { status: account.status }, text }) : null;
}

/** Renaming: an empty name clears it (the kind is shown instead). */
function renamePanel(account, reload) {
  const input = h('input', { name: 'name', maxlength: 64, value: account.name || '', autocomplete: 'off' });
  const form = h('form', { 'aria-label': 'Rename the account' },
    field('Account name', input, { hint: 'Up to 64 characters. Empty: shown by its kind.' }),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Save name' })));
  handleSubmit(form, {
    validate: (data) => ({ name: String(data.get('name')).trim().length > 64 ? 'Use a name of at most 64 characters.' : null }),
    submit: async (data) => {
      const name = String(data.get('name')).trim();
      const renamed = await api.patch(`/api/accounts/${encodeURIComponent(account.id)}`, { name: name || null });
      formMessage(form, 'ok', `Renamed to ${accountLabel(renamed)}.`);
      announce(`Renamed to ${accountLabel(renamed)}.`);
      await reload();
    },
    fieldOf: (error) => ({ invalid_account_name: 'name' })[error.code],
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'rename-h' },
    h('h2', { id: 'rename-h', text: 'Name' }), form);
}

/**
 * Closing the account: final, and only with a zero balance and no open
 * holds (the server decides; its refusal is shown in words). A
 * confirmation first.
 */
function closePanel(account, reload) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'close-h' },
    h('h2', { id: 'close-h', text: 'Close this account' }),
    h('p', { class: 'card-sub', text: 'Closing is final. The balance must be zero and no hold open; the history stays readable.' }));
  const start = h('button', { class: 'button ghost danger', type: 'button', text: 'Close account…' });
  const confirm = h('form', { class: 'confirm', 'aria-label': 'Confirm closing the account', hidden: true },
    h('p', { class: 'confirm-question', tabindex: '-1', text: `Close ${accountLabel(account)} for good?` }),
    h('div', { class: 'form-actions' },
      h('button', { class: 'button danger', type: 'submit', text: 'Yes, close it' }),
      h('button', { class: 'button ghost', type: 'button', text: 'Cancel', onclick: () => { confirm.hidden = true; start.hidden = false; start.focus(); } })));
  start.addEventListener('click', () => {
    start.hidden = true;
    confirm.hidden = false;
    confirm.querySelector('.confirm-question').focus();
  });
  handleSubmit(confirm, {
    submit: async () => {
      const closed = await api.post(`/api/accounts/${encodeURIComponent(account.id)}/close`);
      announce(`${accountLabel(closed)} is closed.`);
      await reload();
    },
  });
  section.append(start, confirm);
  return section;
}

/** Renders the account in `params[0]`; returns the cleanup (live subscriptions). */
export async function render(main, { user, params, query }) {
  const id = params[0];
  const range = RANGES.some(([r]) => r === query.range) ? query.range : DEFAULT_RANGE;
  const own = user.role !== 'admin';
  const headSlot = h('div');
  const noteSlot = h('div');
  const figuresSlot = h('div');
  const chartSlot = h('div', { class: 'chart-slot' });
  const recentSlot = h('div');
  const manageSlot = h('div');
  let account;
  let shownStatus;
  const load = async () => {
    const [fresh, mine, recent] = await Promise.all([
      api.get(`/api/accounts/${encodeURIComponent(id)}`),
      own ? api.get('/api/accounts').then((r) => r.items) : [],
      api.get('/api/transactions', { account_id: id, limit: RECENT }),
    ]);
    account = fresh;
    const byId = new Map([...mine, account].map((a) => [a.id, a]));
    const drawn = await chart(account, range);
    document.title = `${accountLabel(account)} · Ledger`;
    replace(headSlot, head(account, own));
    replace(noteSlot, statusNote(account));
    replace(figuresSlot, figures(account));
    replace(chartSlot, drawn);
    replace(recentSlot, transactionsTable(recent.items, byId, new Set([account.id]), 'No transactions yet.'));
    // The forms are rebuilt only when what they offer changes (the status):
    // a rebuild would wipe what the user is typing and the message of their
    // last save. A name changed elsewhere reaches the field unless it is
    // being edited.
    const nameInput = manageSlot.querySelector('input[name="name"]');
    if (nameInput && document.activeElement !== nameInput) nameInput.value = account.name || '';
    if (shownStatus !== account.status) {
      const changed = shownStatus && shownStatus !== account.status;
      if (changed) announce(`${accountLabel(account)} is now ${account.status}.`);
      shownStatus = account.status;
      const closedNow = changed && account.status === 'closed';
      replace(manageSlot, account.status === 'closed'
        ? (closedNow ? h('p', { class: 'form-ok', role: 'status', text: `${accountLabel(account)} is closed.` }) : null)
        : h('div', { class: 'two-col' }, renamePanel(account, load), own ? closePanel(account, load) : null));
    }
  };
  await load();
  replace(main,
    headSlot,
    noteSlot,
    h('section', { class: 'panel', 'aria-label': `Balances of ${accountLabel(account)}`, dataset: { accountId: account.id, accountNumber: account.number } }, figuresSlot),
    h('section', { class: 'panel', 'aria-labelledby': 'chart-h' },
      h('h2', { id: 'chart-h', text: 'Balance over time' }), rangeTabs(account, range), chartSlot),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel', 'aria-labelledby': 'recent-h' },
        h('h2', { id: 'recent-h', text: 'Recent transactions' }), recentSlot,
        h('div', { class: 'pager' }, h('a', { href: link('history', [], { account_id: account.id }), text: 'All history of this account →' }))),
      h('section', { class: 'panel', 'aria-labelledby': 'statement-h' },
        h('h2', { id: 'statement-h', text: 'Statement' }),
        h('p', { class: 'card-sub', text: 'Opening balance, every posting of the period oldest first with the balance after it, and the closing balance, as CSV.' }),
        statementForm(account))),
    manageSlot);

  // A change to this account, or missed events: re-read it (a burst of events, once).
  return live.onAccountsChanged(load, { accepts: (balance) => balance.account_id === id, delayMs: 250 });
}

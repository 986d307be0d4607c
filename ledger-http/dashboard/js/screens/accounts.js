// Accounts overview: a card per account with live balances, totals per
// currency, and opening a new account. `#/accounts/<id>` is one account's
// page (screens/account.js).

import * as api from '../api.js';
import { accountLabel, statusText } from '../account.js';
import { copyButton } from '../clipboard.js';
import { badge, groupedNumber, h, pageHead, replace, title } from '../dom.js';
import { field, formMessage, handleSubmit, select } from '../forms.js';
import * as live from '../live.js';
import { formatMoney, sumAmounts } from '../money.js';
import { link } from '../router.js';
import { announce } from '../status.js';
import * as accountPage from './account.js';

const KINDS = [['checking', 'Checking'], ['savings', 'Savings'], ['investment', 'Investment']];
const CURRENCIES = [['USD', 'US dollar (USD)'], ['EUR', 'Euro (EUR)'], ['GBP', 'Pound sterling (GBP)']];

function card(account) {
  const active = account.status === 'active';
  const label = accountLabel(account);
  const note = statusText(account);
  return h('article', { class: `card ${account.status}`, dataset: { accountId: account.id, accountNumber: account.number, status: account.status }, 'aria-label': label },
    h('div', { class: 'card-top' },
      h('div', {},
        h('a', { class: 'card-title', href: link('accounts', [account.id]), text: account.name || `${title(account.kind)} account` }),
        h('div', { class: 'card-sub' }, `${title(account.kind)} · ${account.currency} · `,
          h('span', { class: 'mono number', text: groupedNumber(account.number) }), ' ',
          copyButton(account.number, `account number ${groupedNumber(account.number)}`))),
      badge(account.status)),
    h('div', {},
      h('div', { class: 'label-small', text: 'Available' }),
      h('div', { class: 'available', text: formatMoney(account.balance.available, account.currency) })),
    h('div', { class: 'figures' },
      h('span', {}, 'Posted ', h('strong', { class: 'posted', text: formatMoney(account.balance.posted, account.currency) })),
      h('span', {}, 'On hold ', h('strong', { class: 'pending', text: formatMoney(account.balance.pending, account.currency) }))),
    note ? h('p', { class: 'status-note', text: note }) : null,
    h('div', { class: 'card-actions' },
      active ? h('a', { class: 'button small', href: link('pay', ['deposit'], { account: account.id }), text: 'Deposit', 'aria-label': `Deposit to ${label}` }) : null,
      active ? h('a', { class: 'button small ghost', href: link('pay', ['transfer'], { account: account.id }), text: 'Transfer', 'aria-label': `Transfer from ${label}` }) : null,
      h('a', { class: 'button small ghost', href: link('history', [], { account_id: account.id }), text: 'History', 'aria-label': `History of ${label}` }),
      h('a', { class: 'button small ghost', href: link('accounts', [account.id]), text: 'Details', 'aria-label': `Balance over time and statement of ${label}` })));
}

function totals(accounts) {
  const byCurrency = new Map();
  for (const a of accounts.filter((x) => x.status !== 'closed')) {
    byCurrency.set(a.currency, [...(byCurrency.get(a.currency) ?? []), a.balance.available]);
  }
  if (!byCurrency.size) return null;
  return h('p', { class: 'totals' }, 'Total available: ',
    [...byCurrency].map(([currency, amounts], i) => [i ? ' · ' : '', h('strong', { text: formatMoney(sumAmounts(amounts), currency) })]));
}

/** The open-account form, behind an "Open an account" button. */
function openPanel(onOpened) {
  const toggle = h('button', { class: 'button', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'open-panel', text: 'Open an account' });
  const form = h('form', { 'aria-label': 'Open an account' },
    h('div', { class: 'row' },
      field('Kind', select('kind', KINDS, { value: 'checking' })),
      field('Currency', select('currency', CURRENCIES, { value: 'USD' })),
      field('Name (optional)', h('input', { name: 'name', maxlength: 64, autocomplete: 'off' }), { hint: 'Shown on the card, e.g. "Holiday fund".' })),
    h('div', { class: 'form-actions' },
      h('button', { class: 'button', type: 'submit', text: 'Open account' }),
      h('button', { class: 'button ghost', type: 'button', text: 'Cancel', onclick: () => show(false) })));
  const panel = h('section', { class: 'panel', id: 'open-panel', 'aria-labelledby': 'open-h', hidden: true },
    h('h2', { id: 'open-h', text: 'Open an account' }), form);
  const show = (open) => {
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) form.elements.namedItem('kind').focus();
    else toggle.focus();
  };
  toggle.addEventListener('click', () => show(panel.hidden));
  handleSubmit(form, {
    submit: async (data) => {
      const name = data.get('name').trim();
      const account = await api.post('/api/accounts', { kind: data.get('kind'), currency: data.get('currency'), name: name || null });
      form.reset();
      formMessage(form, 'ok', `Opened ${accountLabel(account)}.`);
      announce(`Account ${groupedNumber(account.number)} opened.`);
      await onOpened();
    },
    fieldOf: (error) => ({ invalid_account_name: 'name', invalid_currency: 'currency', invalid_account_kind: 'kind' })[error.code],
  });
  return { toggle, panel, show };
}

function flash(el) {
  el.classList.add('flash');
  setTimeout(() => el.classList.remove('flash'), 1500);
}

/** Renders the overview, or one account's page when `params[0]` is its id; returns the cleanup (live subscriptions). */
export async function render(main, context) {
  if (context.params[0]) return accountPage.render(main, context);
  const { user } = context;
  const list = h('div', { class: 'grid', id: 'account-cards' });
  const summary = h('div', { class: 'summary' });
  const load = async () => {
    const { items } = await api.get('/api/accounts');
    replace(summary, totals(items));
    const before = new Map([...list.querySelectorAll('[data-account-id]')].map((el) => [el.dataset.accountId, el]));
    replace(list, items.length ? items.map((a) => {
      const fresh = card(a);
      const old = before.get(a.id);
      // A card whose figures changed flashes once.
      if (old && old.querySelector('.available')?.textContent !== fresh.querySelector('.available').textContent) flash(fresh);
      return fresh;
    }) : h('p', { class: 'empty', text: 'No accounts yet. Open your first one with the button above.' }));
    return items;
  };
  const open = openPanel(load);
  const items = await load();
  replace(main,
    pageHead(`Hello, ${user.full_name.split(' ')[0] || user.email}`, 'Your accounts, updated live.', open.toggle),
    summary,
    open.panel,
    h('section', { 'aria-label': 'Accounts', class: 'cards' }, list));
  if (!items.length) open.show(true);

  // Any change to an account (balance, status) redraws its card from a
  // fresh read, so buttons and explanations follow the status live.
  return live.onAccountsChanged(load);
}

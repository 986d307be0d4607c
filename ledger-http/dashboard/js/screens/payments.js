// Moving money: deposit, withdraw, transfer (to one's own account in the
// same currency, or to anyone's by account number after confirming the
// payee's name) and holds (reserve money now, capture or release later).
// Each submitted form gets a fresh Idempotency-Key; a retry of the same
// payload after a network failure reuses it, so nothing is applied twice.
// The screen follows the accounts live: a frozen account leaves the forms
// at once, with the reason.

import * as api from '../api.js';
import { accountLabel, accountOption } from '../account.js';
import { groupedNumber, h, pageHead, replace } from '../dom.js';
import { IdempotencyKeys, field, formMessage, handleSubmit, select } from '../forms.js';
import * as live from '../live.js';
import { checkAmount, formatMoney } from '../money.js';
import { confirmPayee, lookUp } from '../payee.js';
import { link } from '../router.js';
import { announce } from '../status.js';

const TABS = [['deposit', 'Deposit'], ['withdraw', 'Withdraw'], ['transfer', 'Transfer'], ['hold', 'Hold']];
const NEEDS_KYC = new Set(['withdraw', 'transfer', 'hold']);
const EXPIRIES = [['', 'No expiry'], ['1', 'In 1 day'], ['7', 'In 7 days'], ['30', 'In 30 days']];
const DAY = 86_400_000;

/** Which field a server refusal belongs to. */
function fieldOf(error) {
  return {
    invalid_amount: 'amount', insufficient_funds: 'amount', capture_exceeds_hold: 'amount',
    invalid_account_number: 'to_number', account_number_not_found: 'to_number', payee_not_found: 'to_number',
    recipient_unavailable: 'to_number', currency_mismatch: 'to_number',
    invalid_description: 'description', invalid_expiry: 'expires',
  }[error.code];
}

function amountField(accounts, form) {
  const input = h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off', required: true, placeholder: '0.00' });
  const wrapper = field('Amount', input, { hint: ' ' });
  const hint = wrapper.querySelector('.hint');
  const update = () => {
    const account = accounts.find((a) => a.id === form.elements.namedItem('account')?.value);
    hint.textContent = account
      ? `In ${account.currency}. Available: ${formatMoney(account.balance.available, account.currency)}.`
      : '';
  };
  return { wrapper, update };
}

function descriptionField() {
  return field('Description (optional)', h('input', { name: 'description', maxlength: 256, autocomplete: 'off' }));
}

function accountSelect(accounts, selected, label = 'Account') {
  return field(label, select('account', accounts.map((a) => [a.id, accountOption(a)]), { value: selected }));
}

function normalizeNumber(text) {
  return text.replace(/[\s-]/g, '');
}

/**
 * Builds one money form. `build(data, account)` returns [path, body, success
 * message]; `review(body, account, slot)` may ask the customer to confirm
 * (resolves false to stop).
 */
function moneyForm({ label, accounts, selected, extra = [], validateExtra, build, review, submitText, onDone, sourceLabel = 'Account' }) {
  const form = h('form', { 'aria-label': label });
  const amount = amountField(accounts, form);
  const reviewSlot = h('div', { class: 'review-slot' });
  const actions = h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: submitText }));
  form.append(accountSelect(accounts, selected, sourceLabel), ...extra,
    amount.wrapper, descriptionField(), reviewSlot, actions);
  form.addEventListener('change', amount.update);
  amount.update();
  const keys = new IdempotencyKeys();
  handleSubmit(form, {
    validate: (data) => {
      const account = accounts.find((a) => a.id === data.get('account'));
      return {
        account: account ? null : 'Choose an account.',
        amount: account ? checkAmount(data.get('amount'), account.currency) : null,
        ...(validateExtra?.(data, account) ?? {}),
      };
    },
    submit: async (data) => {
      const account = accounts.find((a) => a.id === data.get('account'));
      const [path, body, message] = build(data, account);
      const description = data.get('description').trim();
      if (description) body.description = description;
      body.amount = data.get('amount').trim();
      if (review) {
        actions.hidden = true;
        try {
          if (!(await review(body, account, reviewSlot))) {
            form.elements.namedItem('amount').focus();
            return;
          }
        } finally {
          actions.hidden = false;
        }
      }
      const idempotencyKey = keys.keyFor([path, body]);
      try {
        const transaction = await api.post(path, body, { idempotencyKey });
        keys.settled();
        form.elements.namedItem('amount').value = '';
        form.elements.namedItem('description').value = '';
        const text = message(formatMoney(transaction.amount, transaction.currency), transaction);
        formMessage(form, 'ok', text);
        announce(text);
        await onDone();
      } catch (error) {
        // The server answered: the key is spent. A network failure keeps it for the retry.
        if (error.status !== 0) keys.settled();
        throw error;
      }
    },
    fieldOf,
  });
  return form;
}

/** "To": one of my other accounts in the source's currency, or someone's account number. */
function destinationFields(accounts, form, { optional = false } = {}) {
  const mine = select('to_account', []);
  const number = h('input', { name: 'to_number', inputmode: 'numeric', autocomplete: 'off', placeholder: '1234 5678 9012' });
  const ownField = field('To my account', mine);
  const numberField = field('Account number', number, { hint: '12 digits, as shown on the recipient\'s account.' });
  const choice = (value, text, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'destination', value, checked }), text);
  const choices = [
    optional ? choice('none', 'No one yet: keep it on my account', true) : null,
    choice('own', 'One of my accounts', !optional),
    choice('number', 'Someone else, by account number', false),
  ];
  const fieldset = h('fieldset', {}, h('legend', { text: optional ? 'Pay to (optional)' : 'To' }),
    h('div', { class: 'row choices' }, choices), ownField, numberField);
  const sync = () => {
    const source = accounts.find((a) => a.id === form.elements.namedItem('account')?.value);
    // Only valid destinations: not the source, same currency.
    const targets = accounts.filter((a) => source && a.id !== source.id && a.currency === source.currency);
    const kept = mine.value;
    mine.replaceChildren(...(targets.length
      ? targets.map((a) => h('option', { value: a.id, text: accountOption(a), selected: a.id === kept }))
      : [h('option', { value: '', text: `No other ${source?.currency ?? ''} account` })]));
    const how = fieldset.querySelector('input[name="destination"]:checked')?.value;
    ownField.hidden = how !== 'own';
    numberField.hidden = how !== 'number';
  };
  form.addEventListener('change', sync);
  return { fieldset, sync };
}

function validateDestination(data) {
  const how = data.get('destination');
  if (how === 'number') {
    const number = normalizeNumber(data.get('to_number'));
    if (!number) return { to_number: 'Enter the recipient\'s account number.' };
    return { to_number: /^\d{12}$/.test(number) ? null : 'An account number has 12 digits.' };
  }
  if (how === 'own') return { to_account: data.get('to_account') ? null : 'You have no other account in this currency. Open one, or pay by account number.' };
  return {};
}

/** The payee review for a payment by account number (own accounts need none). */
async function reviewPayee(body, account, slot) {
  if (!body.to_account_number) return true;
  const payee = await lookUp(body.to_account_number, account.currency);
  return confirmPayee(slot, payee, formatMoney(body.amount, account.currency), slot.dataset.verb ?? 'Send');
}

/** Why there is no form: no account, or none active (frozen, closed), with what to do. */
function noActiveAccount(all) {
  if (!all.length) {
    return h('p', { class: 'empty' }, 'You have no account yet. ', h('a', { href: link('accounts'), text: 'Open one first.' }));
  }
  return h('div', { class: 'notice', role: 'status' },
    h('p', { text: 'None of your accounts can move money right now:' }),
    h('ul', {}, all.map((a) => h('li', { text: `${accountLabel(a)} is ${a.status}${a.status === 'frozen' ? ' by our team. Contact support to unfreeze it.' : '.'}` }))),
    h('a', { href: link('accounts'), text: 'See your accounts →' }));
}

/** The reminder on forms that need a verified identity, for customers who are not. */
function kycNotice(user) {
  if (user.role === 'admin' || user.kyc_status === 'verified') return null;
  const text = {
    unverified: 'Withdrawals, transfers and holds need a verified identity, and yours is not verified yet.',
    pending: 'Your identity is being reviewed. Withdrawals, transfers and holds open once it is verified.',
    rejected: 'Your identity review was rejected. Correct your details and submit them again.',
  }[user.kyc_status];
  return h('p', { class: 'notice kyc-notice', role: 'note' }, `${text} `,
    user.kyc_status === 'pending' ? null : h('a', { href: link('profile'), text: 'Go to your profile →' }));
}

/** Renders the screen for the tab in `params[0]`; returns the cleanup (live subscriptions). */
export async function render(main, { params, query, user }) {
  const tab = TABS.some(([t]) => t === params[0]) ? params[0] : 'deposit';
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Kind of payment' },
    TABS.map(([t, text]) => h('a', { href: link('pay', [t], query.account ? { account: query.account } : {}), 'aria-current': t === tab ? 'page' : null, text })));
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'pay-h' });
  let statuses = '';
  let accounts = [];
  const draw = (all) => {
    accounts = all.filter((a) => a.status === 'active');
    statuses = all.map((a) => `${a.id}:${a.status}`).join();
    const heading = h('h2', { id: 'pay-h', text: TABS.find(([t]) => t === tab)[1] });
    const frozen = all.filter((a) => a.status === 'frozen');
    const frozenNote = accounts.length && frozen.length ? h('p', { class: 'notice frozen-note', role: 'status' },
      `${frozen.map(accountLabel).join(', ')} ${frozen.length === 1 ? 'is' : 'are'} frozen by our team and cannot be used. Contact support to unfreeze.`) : null;
    if (!accounts.length) {
      replace(panel, heading, noActiveAccount(all));
      return;
    }
    const selected = accounts.some((a) => a.id === query.account) ? query.account : accounts[0].id;
    replace(panel, heading, NEEDS_KYC.has(tab) ? kycNotice(user) : null, frozenNote, form(selected));
  };
  const refresh = async () => {
    const all = (await api.get('/api/accounts')).items;
    const next = all.map((a) => `${a.id}:${a.status}`).join();
    if (next !== statuses) {
      draw(all);
      return;
    }
    for (const account of accounts) Object.assign(account, all.find((f) => f.id === account.id) ?? {});
    panel.querySelector('form')?.dispatchEvent(new Event('change'));
  };
  const form = (selected) => {
    if (tab === 'deposit') {
      return moneyForm({
        label: 'Deposit', accounts, selected, submitText: 'Deposit', onDone: refresh,
        build: (data, account) => ['/api/transactions/deposits', { account_id: data.get('account') },
          (money) => `Deposited ${money} to ${accountLabel(account)}.`],
      });
    }
    if (tab === 'withdraw') {
      return moneyForm({
        label: 'Withdraw', accounts, selected, submitText: 'Withdraw', onDone: refresh,
        build: (data, account) => ['/api/transactions/withdrawals', { account_id: data.get('account') },
          (money) => `Withdrew ${money} from ${accountLabel(account)}.`],
      });
    }
    let destination;
    const el = h('div');
    const built = tab === 'transfer'
      ? moneyForm({
        label: 'Transfer', accounts, selected, submitText: 'Review transfer', onDone: refresh, sourceLabel: 'From',
        extra: [el],
        validateExtra: validateDestination,
        review: reviewPayee,
        build: (data) => {
          const body = { from_account_id: data.get('account') };
          let to;
          if (data.get('destination') === 'number') {
            body.to_account_number = normalizeNumber(data.get('to_number'));
            to = groupedNumber(body.to_account_number);
          } else {
            body.to_account_id = data.get('to_account');
            to = accountLabel(accounts.find((a) => a.id === body.to_account_id));
          }
          return ['/api/transactions/transfers', body, (money) => `Sent ${money} to ${to}.`];
        },
      })
      : moneyForm({
        label: 'Hold', accounts, selected, submitText: 'Review hold', onDone: refresh,
        extra: [el, field('Expires', select('expires', EXPIRIES, { value: '7' }), { hint: 'An expired hold releases the money by itself.' })],
        validateExtra: (data) => (data.get('destination') === 'own' ? { to_account: 'A hold pays someone by account number, or no one yet.' } : validateDestination(data)),
        review: reviewPayee,
        build: (data) => {
          const body = { account_id: data.get('account') };
          if (data.get('destination') === 'number') body.to_account_number = normalizeNumber(data.get('to_number'));
          if (data.get('expires')) body.expires_at = new Date(Date.now() + Number(data.get('expires')) * DAY).toISOString();
          return ['/api/holds', body, (money, t) => `Held ${money}${t.expires_at ? ` until ${new Date(t.expires_at).toLocaleDateString()}` : ''}. Capture or release it from its page in History.`];
        },
      });
    destination = destinationFields(accounts, built, { optional: tab === 'hold' });
    if (tab === 'hold') destination.fieldset.querySelector('input[value="own"]').closest('label').remove();
    el.replaceWith(destination.fieldset);
    destination.sync();
    built.querySelector('.review-slot').dataset.verb = tab === 'hold' ? 'Hold' : 'Send';
    return built;
  };
  replace(main, pageHead('Move money', 'Deposits arrive at once; withdrawals, transfers and holds need a verified identity.'), tabs, panel);
  draw((await api.get('/api/accounts')).items);
  return live.onAccountsChanged(refresh);
}

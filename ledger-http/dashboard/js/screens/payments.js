// Moving money: deposit, withdraw, transfer (to one's own account or to
// anyone's by account number). Each submitted form gets a fresh
// Idempotency-Key; a retry of the same payload after a network failure
// reuses it, so nothing is applied twice.

import * as api from '../api.js';
import { accountLabel, accountOption } from '../account.js';
import { groupedNumber, h, pageHead, replace } from '../dom.js';
import { IdempotencyKeys, field, formMessage, handleSubmit, select } from '../forms.js';
import { checkAmount, formatMoney } from '../money.js';
import { link } from '../router.js';
import { announce } from '../status.js';

const TABS = [['deposit', 'Deposit'], ['withdraw', 'Withdraw'], ['transfer', 'Transfer']];

/** Which field a server refusal belongs to. */
function fieldOf(error) {
  return {
    invalid_amount: 'amount', insufficient_funds: 'amount',
    invalid_account_number: 'to_number', account_number_not_found: 'to_number',
    invalid_description: 'description',
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

/** Builds one money form. `build(data, account)` returns [path, body, success message]. */
function moneyForm({ label, accounts, selected, extra = [], validateExtra, build, submitText, onDone }) {
  const form = h('form', { 'aria-label': label });
  const amount = amountField(accounts, form);
  form.append(accountSelect(accounts, selected, label === 'Transfer' ? 'From' : 'Account'), ...extra,
    amount.wrapper, descriptionField(),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: submitText })));
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
      const idempotencyKey = keys.keyFor([path, body]);
      try {
        const transaction = await api.post(path, body, { idempotencyKey });
        keys.settled();
        form.elements.namedItem('amount').value = '';
        form.elements.namedItem('description').value = '';
        const text = message(formatMoney(transaction.amount, transaction.currency));
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

function transferExtra(accounts) {
  const mine = select('to_account', [['', 'Choose an account'], ...accounts.map((a) => [a.id, accountOption(a)])]);
  const number = h('input', { name: 'to_number', inputmode: 'numeric', autocomplete: 'off', placeholder: '1234 5678 9012' });
  const ownField = field('To my account', mine);
  const numberField = field('Account number', number, { hint: '12 digits, as shown on the recipient\'s account.' });
  const choice = (value, text, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'destination', value, checked }), text);
  const fieldset = h('fieldset', {}, h('legend', { text: 'To' }),
    h('div', { class: 'row' }, choice('own', 'One of my accounts', true), choice('number', 'Someone else, by account number', false)),
    ownField, numberField);
  const sync = () => {
    const byNumber = fieldset.querySelector('input[name="destination"]:checked')?.value === 'number';
    ownField.hidden = byNumber;
    numberField.hidden = !byNumber;
  };
  fieldset.addEventListener('change', sync);
  sync();
  return fieldset;
}

function normalizeNumber(text) {
  return text.replace(/[\s-]/g, '');
}

/** Renders the screen for the tab in `params[0]`. */
export async function render(main, { params, query }) {
  const tab = TABS.some(([t]) => t === params[0]) ? params[0] : 'deposit';
  const { items } = await api.get('/api/accounts');
  const accounts = items.filter((a) => a.status === 'active');
  const selected = accounts.some((a) => a.id === query.account) ? query.account : accounts[0]?.id;
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Kind of payment' },
    TABS.map(([t, text]) => h('a', { href: link('pay', [t], query.account ? { account: query.account } : {}), 'aria-current': t === tab ? 'page' : null, text })));
  const panel = h('section', { class: 'panel' });
  replace(main, pageHead('Move money', 'Deposits arrive at once; withdrawals and outgoing transfers need a verified identity.'), tabs, panel);
  if (!accounts.length) {
    replace(panel, h('p', { class: 'empty' }, 'You have no active account. ', h('a', { href: link('accounts'), text: 'Open one first.' })));
    return;
  }
  const refresh = async () => {
    const fresh = (await api.get('/api/accounts')).items;
    for (const account of accounts) Object.assign(account, fresh.find((f) => f.id === account.id) ?? {});
    panel.querySelector('form')?.dispatchEvent(new Event('change'));
  };
  let form;
  if (tab === 'deposit') {
    form = moneyForm({
      label: 'Deposit', accounts, selected, submitText: 'Deposit', onDone: refresh,
      build: (data, account) => ['/api/transactions/deposits', { account_id: data.get('account') },
        (money) => `Deposited ${money} to ${accountLabel(account)}.`],
    });
  } else if (tab === 'withdraw') {
    form = moneyForm({
      label: 'Withdraw', accounts, selected, submitText: 'Withdraw', onDone: refresh,
      build: (data, account) => ['/api/transactions/withdrawals', { account_id: data.get('account') },
        (money) => `Withdrew ${money} from ${accountLabel(account)}.`],
    });
  } else {
    form = moneyForm({
      label: 'Transfer', accounts, selected, submitText: 'Send transfer', onDone: refresh,
      extra: [transferExtra(accounts)],
      validateExtra: (data) => {
        if (data.get('destination') === 'number') {
          const number = normalizeNumber(data.get('to_number'));
          if (!number) return { to_number: 'Enter the recipient\'s account number.' };
          return { to_number: /^\d{12}$/.test(number) ? null : 'An account number has 12 digits.' };
        }
        if (!data.get('to_account')) return { to_account: 'Choose the account to credit.' };
        return { to_account: data.get('to_account') === data.get('account') ? 'Choose a different account than the source.' : null };
      },
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
    });
  }
  replace(panel, h('h2', { text: TABS.find(([t]) => t === tab)[1] }), form);
}

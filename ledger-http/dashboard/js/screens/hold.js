// An open hold's actions, on its detail view: capture it (all, or part:
// the rest is released) or release it (void). Who may: the payee of a hold
// with a destination (the merchant), the owner of one without, admins.

import * as api from '../api.js';
import { h } from '../dom.js';
import { IdempotencyKeys, field, handleSubmit } from '../forms.js';
import { checkAmount, formatMoney } from '../money.js';
import { announce } from '../status.js';

/** Whether the reader decides this hold (the server checks again). */
export function decidesHold(t, mine, user) {
  if (t.kind !== 'hold' || t.status !== 'pending') return false;
  if (user.role === 'admin') return true;
  return t.to_account_id ? mine.has(t.to_account_id) : mine.has(t.from_account_id);
}

/** The capture and release forms; `onDone(transaction)` after either. */
export function holdPanel(t, onDone) {
  const money = formatMoney(t.amount, t.currency);
  const keys = new IdempotencyKeys();
  const capture = h('form', { 'aria-label': 'Capture the hold' },
    field('Amount to capture', h('input', { name: 'amount', inputmode: 'decimal', autocomplete: 'off', placeholder: t.amount }),
      { hint: `In ${t.currency}, at most ${money}. Leave empty to capture all of it; what is not captured is released.` }),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Capture' })));
  handleSubmit(capture, {
    validate: (data) => {
      const amount = data.get('amount').trim();
      return { amount: amount ? checkAmount(amount, t.currency) : null };
    },
    submit: async (data) => {
      const amount = data.get('amount').trim();
      const body = amount ? { amount } : {};
      const path = `/api/holds/${encodeURIComponent(t.id)}/capture`;
      const idempotencyKey = keys.keyFor([path, body]);
      try {
        const done = await api.post(path, body, { idempotencyKey });
        keys.settled();
        announce(`Captured ${formatMoney(done.captured_amount ?? done.amount, done.currency)}.`);
        await onDone(done, 'captured');
      } catch (error) {
        if (error.status !== 0) keys.settled();
        throw error;
      }
    },
    fieldOf: (error) => ({ invalid_amount: 'amount', capture_exceeds_hold: 'amount', insufficient_funds: 'amount' })[error.code],
  });
  const release = h('form', { 'aria-label': 'Release the hold' },
    h('p', { class: 'card-sub', text: `Gives the ${money} back to the paying account's available balance.` }),
    h('div', { class: 'form-actions' }, h('button', { class: 'button ghost danger', type: 'submit', text: 'Release' })));
  handleSubmit(release, {
    submit: async () => {
      const done = await api.post(`/api/holds/${encodeURIComponent(t.id)}/void`, undefined, { idempotencyKey: crypto.randomUUID() });
      announce(`Released ${money}.`);
      await onDone(done, 'released');
    },
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'hold-h' },
    h('h2', { id: 'hold-h', text: 'Open hold' }),
    h('div', { class: 'two-col' }, capture, release));
}

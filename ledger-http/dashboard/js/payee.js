// Confirmation of payee: before money goes to someone else's account
// number, the name its owner goes by ("Bob B."), asked of the server and
// shown for the customer to confirm or cancel.

import * as api from './api.js';
import { groupedNumber, h } from './dom.js';

/** The payee of `number` in `currency` ({ display_name, own, ... }); throws the server's refusal. */
export function lookUp(number, currency) {
  return api.get(`/api/payees/${encodeURIComponent(number)}`, { currency });
}

/**
 * Shows the review step in `slot` and resolves to true (send) or false
 * (cancel). `what` is the money ("$25.00"), `verb` the action ("Send").
 */
export function confirmPayee(slot, payee, what, verb = 'Send') {
  return new Promise((resolve) => {
    const question = h('p', { class: 'confirm-question', id: 'payee-question', tabindex: '-1' },
      `${verb} ${what} ${verb === 'Hold' ? 'for' : 'to'} `, h('strong', { class: 'payee-name', text: payee.display_name }), '?');
    const done = (answer) => {
      box.remove();
      resolve(answer);
    };
    const yes = h('button', { class: 'button', type: 'button', text: `Yes, ${verb.toLowerCase()} ${what}`, onclick: () => done(true) });
    const no = h('button', { class: 'button ghost', type: 'button', text: 'Cancel', onclick: () => done(false) });
    const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': 'payee-question' },
      question,
      h('p', { class: 'card-sub', text: `Account ${groupedNumber(payee.number)} · ${payee.currency}. Check the name: money sent to the wrong person may not come back.` }),
      h('div', { class: 'form-actions' }, yes, no));
    slot.replaceChildren(box);
    question.focus();
  });
}

// How an account is named on screen, everywhere the same.

import { title } from './dom.js';

/** "Holiday fund" or "Checking", then "••9012". */
export function accountLabel(account) {
  const name = account.name || title(account.kind);
  return `${name} ••${account.number.slice(-4)}`;
}

/** What an account's status means for its owner, or null while it is plain "active". */
export function statusText(account) {
  return {
    frozen: 'Frozen by our team: no money can move in or out. Contact support to unfreeze it.',
    closed: 'Closed: it keeps its history and takes no money.',
  }[account.status] ?? null;
}

/** The option label of an account in a <select>. */
export function accountOption(account) {
  return `${accountLabel(account)} (${account.currency})`;
}

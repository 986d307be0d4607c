// How an account is named on screen, everywhere the same.

import { title } from './dom.js';

/** "Holiday fund" or "Checking", then "••9012". */
export function accountLabel(account) {
  const name = account.name || title(account.kind);
  return `${name} ••${account.number.slice(-4)}`;
}

/** The option label of an account in a <select>. */
export function accountOption(account) {
  return `${accountLabel(account)} (${account.currency})`;
}

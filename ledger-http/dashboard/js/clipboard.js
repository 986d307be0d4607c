// A "Copy" button for a value the reader will paste elsewhere (an account
// number): it copies, says so in place and to screen readers.

import { h } from './dom.js';
import { announce } from './status.js';

/** A small button that copies `value`; `what` names it for screen readers ("account number 1234…"). */
export function copyButton(value, what) {
  const button = h('button', { class: 'button small ghost copy', type: 'button', text: 'Copy', 'aria-label': `Copy ${what}` });
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      button.textContent = 'Copied';
      announce(`Copied ${what}.`);
    } catch {
      button.textContent = 'Select and copy';
      announce('Copying is blocked here: select the number and copy it.');
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  return button;
}

// Toasts: short notices of things that happened elsewhere (money arrived),
// stacked at the top right, announced politely, gone after a while or when
// dismissed.

import { h } from './dom.js';

const SHOWN_MS = 8000;

/** Shows a toast with `text`; `href` makes it a link. */
export function toast(text, href) {
  const region = document.getElementById('toasts');
  if (!region) return;
  const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
  const el = h('div', { class: 'toast', role: 'status' },
    href ? h('a', { href, text }) : h('span', { text }), close);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  region.append(el);
  setTimeout(remove, SHOWN_MS);
}

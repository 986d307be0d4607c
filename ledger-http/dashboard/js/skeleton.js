// Loading skeletons: grey shapes where a screen's content will be, so the
// page keeps its layout while it loads, and `aria-busy` on the main region
// for screen readers. Widths are classes (the CSP allows no inline style).

import { h } from './dom.js';

const bar = (size) => h('div', { class: `skeleton-bar ${size}` });

function cardShape() {
  return h('div', { class: 'card skeleton' }, bar('w2'), bar('w1'), bar('w3'), bar('w2'));
}

function panelShape(rows) {
  return h('div', { class: 'panel skeleton' }, bar('w1'), Array.from({ length: rows }, (_, i) => bar(['w4', 'w3', 'w2'][i % 3])));
}

/** The placeholder for the screen `name` while it loads. */
export function skeleton(name) {
  document.getElementById('main')?.setAttribute('aria-busy', 'true');
  const label = h('p', { class: 'visually-hidden', text: 'Loading…' });
  if (name === 'accounts') {
    return h('div', { class: 'loading-shape' }, label, h('div', { class: 'skeleton-bar skeleton-title' }),
      h('div', { class: 'grid' }, cardShape(), cardShape(), cardShape()));
  }
  return h('div', { class: 'loading-shape' }, label, h('div', { class: 'skeleton-bar skeleton-title' }), panelShape(3), panelShape(6));
}

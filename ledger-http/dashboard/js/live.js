// Live updates from `GET /api/events` (Server-Sent Events, authenticated by
// the session cookie). Screens subscribe to `balance`, `transaction`,
// `profile` (the user after a profile or KYC change), `resync` (re-read
// everything: events were missed or the stream was down) and `connection`
// ({ up }: the stream opened, or dropped or the browser went offline).
// When the stream fails, the session is checked: a revoked session signs
// this browser out at once, without waiting for the next click.

import * as api from './api.js';

const bus = new EventTarget();
let source = null;
let probing = false;
let retryTimer = null;

/** Listens for `type` ('balance', 'transaction', 'profile', 'resync', 'connection'); returns the unsubscribe. */
export function on(type, listener) {
  const handler = (event) => listener(event.detail);
  bus.addEventListener(type, handler);
  return () => bus.removeEventListener(type, handler);
}

/**
 * Calls `reload` once, `delayMs` after the last of a burst of account
 * changes (`balance` events that `accepts` lets through, and `resync`);
 * returns the unsubscribe.
 */
export function onAccountsChanged(reload, { accepts = () => true, delayMs = 150 } = {}) {
  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { reload().catch(() => {}); }, delayMs);
  };
  const offBalance = on('balance', (balance) => { if (accepts(balance)) soon(); });
  const offResync = on('resync', soon);
  return () => { clearTimeout(timer); offBalance(); offResync(); };
}

function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Opens the stream (once). */
export function connect() {
  if (source) return;
  source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('balance', (event) => emit('balance', JSON.parse(event.data)));
  source.addEventListener('transaction', (event) => emit('transaction', JSON.parse(event.data)));
  source.addEventListener('profile', (event) => emit('profile', JSON.parse(event.data)));
  source.addEventListener('lagged', () => emit('resync'));
  source.addEventListener('open', () => {
    const wasDown = document.body.dataset.live === 'off';
    document.body.dataset.live = 'on';
    emit('connection', { up: true });
    if (wasDown) emit('resync');
  });
  source.addEventListener('error', onError);
}

// The browser knows before the stream does that the network is gone.
window.addEventListener('offline', () => {
  if (!source) return;
  document.body.dataset.live = 'off';
  emit('connection', { up: false });
});
window.addEventListener('online', () => {
  if (!source) return;
  // Start over at once rather than wait for EventSource's own retry.
  source.close();
  source = null;
  connect();
});

/** Closes the stream (sign-out). */
export function disconnect() {
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  delete document.body.dataset.live;
  emit('connection', { up: true });
}

async function onError() {
  document.body.dataset.live = 'off';
  emit('connection', { up: false });
  if (probing || !source) return;
  probing = true;
  try {
    // A 401 here reaches the session-lost listeners, which sign out.
    await api.get('/api/me');
    if (source && source.readyState === EventSource.CLOSED) {
      source = null;
      retryTimer = setTimeout(() => { connect(); emit('resync'); }, 3000);
    }
  } catch {
    // Signed out (handled by the listeners) or offline (EventSource retries by itself).
  } finally {
    probing = false;
  }
}

// The offline banner: shown while the live connection is down (the event
// stream dropped, or the browser is offline), so nobody trusts a balance
// that may be stale; hidden when the stream is back (screens then re-read).

import * as live from './live.js';

let timer = null;

/** Starts following the connection; the banner is `#offline` in index.html. */
export function start() {
  const banner = document.getElementById('offline');
  live.on('connection', ({ up }) => {
    clearTimeout(timer);
    if (up) {
      banner.hidden = true;
      return;
    }
    // A blip (the stream reconnecting at once) shows nothing.
    timer = setTimeout(() => { banner.hidden = false; }, navigator.onLine ? 1500 : 0);
  });
}

// The polite live region at the bottom of the page: short confirmations
// that screen readers announce without moving focus.

let timer;

/** Shows and announces a short message for a few seconds. */
export function announce(message) {
  const region = document.getElementById('status');
  if (!region) return;
  clearTimeout(timer);
  region.textContent = message;
  timer = setTimeout(() => { region.textContent = ''; }, 6000);
}

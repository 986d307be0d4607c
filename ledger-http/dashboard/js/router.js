// Hash routes (`#/history?kind=deposit`): the server serves one page, the
// fragment picks the screen, and the browser's back button just works.

/** The current route: `name` (first segment), `params` (the rest), `query`. */
export function current() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const [name = '', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name, params, query: Object.fromEntries(new URLSearchParams(search)) };
}

/** A hash link for a route. */
export function link(name, params = [], query = {}) {
  const path = [name, ...params].map(encodeURIComponent).join('/');
  const clean = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '' && v != null));
  const search = new URLSearchParams(clean).toString();
  return `#/${path}${search ? `?${search}` : ''}`;
}

/** Goes to a route (a no-op re-render if it is the current one). */
export function go(name, params = [], query = {}) {
  const target = link(name, params, query);
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** Calls `render` now and on every route change. */
export function start(render) {
  window.addEventListener('hashchange', () => render(current()));
  render(current());
}

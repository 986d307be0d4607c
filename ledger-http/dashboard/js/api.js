// The API client: JSON over fetch with the session cookie. Writes carry the
// CSRF token the server set at login (the `ledger_csrf` cookie) as the
// `X-CSRF-Token` header; errors are RFC 9457 problems turned into ApiError.

/** A failed request: `status` 0 means the network failed (the request may or may not have arrived). */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem?.detail || problem?.title || (status === 0
      ? 'The network failed. Check your connection and try again.'
      : `The server answered ${status}.`);
    super(detail);
    this.status = status;
    this.code = problem?.code ?? (status === 0 ? 'network_error' : 'error');
    this.detail = detail;
    this.requestId = problem?.request_id;
  }
}

const listeners = new Set();

/** Calls `listener` whenever the server says the session is gone (401). */
export function onSessionLost(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The value of a cookie this page may read. */
function cookie(name) {
  const prefix = `${name}=`;
  const found = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith(prefix));
  return found ? decodeURIComponent(found.slice(prefix.length)) : '';
}

/**
 * Sends a request. `body` is sent as JSON; `idempotencyKey` as the
 * `Idempotency-Key` header; `accept` as `Accept`. Resolves to the parsed
 * body (null for 204), or with `blob` to the body as a Blob.
 */
export async function request(method, path, { body, idempotencyKey, query, accept = 'application/json', blob = false } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('ledger_csrf');
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, null);
  }
  const type = response.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    // A wrong password is 401 too, but it does not end the session.
    if (response.status === 401 && error.code !== 'invalid_credentials') listeners.forEach((l) => l(error));
    throw error;
  }
  if (blob) return response.blob();
  return response.status === 204 ? null : data;
}

/** A query object without its empty values, or undefined if nothing is left. */
function cleanQuery(query) {
  const clean = query && Object.fromEntries(Object.entries(query).filter(([, v]) => v !== '' && v != null));
  return clean && Object.keys(clean).length ? clean : undefined;
}

/** GET with an optional query object (empty values left out). */
export function get(path, query) {
  return request('GET', path, { query: cleanQuery(query) });
}

/**
 * GET a file (a CSV statement) as a Blob, with the session cookie like any
 * request; a refusal is still a problem, thrown as ApiError.
 */
export function download(path, query, accept = 'text/csv') {
  return request('GET', path, { query: cleanQuery(query), accept: `${accept}, application/problem+json`, blob: true });
}

/** POST a JSON body. */
export function post(path, body, options = {}) {
  return request('POST', path, { ...options, body });
}

/** PATCH a JSON body. */
export function patch(path, body) {
  return request('PATCH', path, { body });
}

/** DELETE. */
export function del(path) {
  return request('DELETE', path);
}

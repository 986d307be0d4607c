// Who is signed in, as the server last said (`GET /api/me`). The session
// itself is the HttpOnly cookie; this page never sees its token.

import * as api from './api.js';

let user = null;

/** The signed-in user, or null. */
export function currentUser() {
  return user;
}

/** Asks the server who the cookie belongs to; null if no one. */
export async function refresh() {
  try {
    user = await api.get('/api/me');
  } catch (error) {
    if (error.status !== 401) throw error;
    user = null;
  }
  return user;
}

/** Remembers the user a screen got back from the server (login, profile). */
export function remember(next) {
  user = next;
}

/** Signs in; the server sets the session and CSRF cookies. */
export async function login(email, password) {
  const label = deviceLabel();
  const response = await api.post('/api/auth/login', { email, password, device_label: label });
  user = response.user;
  return user;
}

/** Signs out on the server (best effort) and forgets the user. */
export async function logout() {
  try {
    await api.post('/api/auth/logout');
  } finally {
    user = null;
  }
}

/** Forgets the user without asking the server (the session already ended). */
export function forget() {
  user = null;
}

/** A human label for this browser in the sessions list ("Chrome on Linux"). */
function deviceLabel() {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS'
    : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : 'unknown OS';
  return `${browser} on ${os}`;
}

// The dashboard's entry point: who is signed in, which screen the address
// names, the navigation, sign-out, and the live connection.

import * as api from './api.js';
import * as arrivals from './arrivals.js';
import * as connection from './connection.js';
import * as devMode from './dev_mode.js';
import { h, replace } from './dom.js';
import * as live from './live.js';
import * as router from './router.js';
import * as session from './session.js';
import { skeleton } from './skeleton.js';
import { problemText } from './problems.js';
import { announce } from './status.js';
import * as accounts from './screens/accounts.js';
import * as admin from './screens/admin.js';
import * as auth from './screens/auth.js';
import * as history from './screens/history.js';
import * as payments from './screens/payments.js';
import * as profile from './screens/profile.js';
import * as security from './screens/security.js';

const SCREENS = {
  login: auth.login,
  register: auth.register,
  reset: auth.reset,
  accounts: accounts.render,
  pay: payments.render,
  history: history.render,
  profile: profile.render,
  security: security.render,
  admin: admin.render,
};
const SIGNED_OUT = new Set(['login', 'register', 'reset']);
const TITLES = {
  login: 'Sign in', register: 'Register', reset: 'Reset password', accounts: 'Accounts', pay: 'Move money',
  history: 'History', profile: 'Profile', security: 'Security', admin: 'Admin',
};

let cleanup = null;
let renders = 0;

function chrome(user, name) {
  document.getElementById('nav').hidden = !user;
  document.getElementById('who').hidden = !user;
  document.getElementById('who-email').textContent = user?.email ?? '';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.admin !== undefined) a.hidden = user?.role !== 'admin';
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${TITLES[name] ?? 'Ledger'} · Ledger`;
}

/** Where a user lands: admins on their overview, customers on their accounts. */
function home(user) {
  return user?.role === 'admin' ? 'admin' : 'accounts';
}

function startLive() {
  live.connect();
  arrivals.start();
}

function signedIn(user) {
  session.remember(user);
  startLive();
  announce(`Signed in as ${user.email}.`);
  router.go(home(user));
}

function signedOut(query = {}) {
  arrivals.end();
  live.disconnect();
  session.forget();
  router.go('login', [], query);
}

async function render(route) {
  const main = document.getElementById('main');
  cleanup?.();
  cleanup = null;
  const run = ++renders;
  const user = session.currentUser();
  const { name } = route;
  if (!user && !SIGNED_OUT.has(name)) return router.go('login');
  if (user && (SIGNED_OUT.has(name) || !SCREENS[name])) return router.go(home(user));
  if (name === 'admin' && user.role !== 'admin') return router.go('accounts');
  chrome(user, name);
  replace(main, skeleton(name));
  try {
    const result = await SCREENS[name](main, { user, params: route.params, query: route.query, signedIn });
    if (run !== renders) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = typeof result === 'function' ? result : null;
    main.removeAttribute('aria-busy');
    main.focus({ preventScroll: true });
  } catch (error) {
    if (run !== renders || error.status === 401) return;
    main.removeAttribute('aria-busy');
    replace(main, h('section', { class: 'panel' },
      h('h1', { text: 'This page could not load' }),
      h('p', { role: 'alert', text: problemText(error) }),
      h('button', { class: 'button', type: 'button', text: 'Try again', onclick: () => router.go(name, route.params, route.query) })));
  }
}

async function main() {
  api.onSessionLost(() => {
    // Only a session this page believed in can be lost.
    if (!session.currentUser()) return;
    announce('Your session has ended.');
    signedOut({ ended: '1' });
  });
  const logout = document.getElementById('logout');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await session.logout();
    } catch {
      // Signed out locally either way.
    } finally {
      logout.disabled = false;
      signedOut();
      announce('Signed out.');
    }
  });
  connection.start();
  devMode.start();
  // The user's own changes (KYC decided, profile saved elsewhere) arrive live.
  live.on('profile', (user) => {
    if (session.currentUser()?.id === user.id) session.remember(user);
  });
  try {
    const user = await session.refresh();
    if (user) startLive();
  } catch (error) {
    replace(document.getElementById('main'), h('p', { class: 'form-error', role: 'alert', text: `The service is unreachable. ${problemText(error)}` }));
    return;
  }
  router.start(render);
}

main();

// Setting people up quickly for the e2e tests: register, sign in and move
// money through the API with the browser context's own cookies (so the
// page is then signed in), leaving the browser for what a test is about.

import assert from 'node:assert/strict';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './harness.js';

export const PASSWORD = 'correct horse battery staple';
const run = Date.now().toString(36);

/** A unique email for `name` in this run. */
export function email(name) {
  return `${name}-${run}@example.com`;
}

async function csrf(page) {
  const cookies = await page.context().cookies();
  return cookies.find((c) => c.name === 'ledger_csrf')?.value ?? '';
}

/** Calls the API as the page's user; returns the parsed body (asserts the status). */
export async function api(page, method, path, body, { status, key } = {}) {
  const headers = { 'X-CSRF-Token': await csrf(page) };
  if (key) headers['Idempotency-Key'] = key;
  const response = await page.request.fetch(path, { method, headers, data: body });
  const text = await response.text();
  if (status !== undefined) assert.equal(response.status(), status, `${method} ${path}: ${text}`);
  else assert.ok(response.ok(), `${method} ${path}: ${response.status()} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Registers and signs in (cookies in the page's context); returns the user. */
export async function registered(page, fullName, name = fullName.split(' ')[0].toLowerCase()) {
  const address = email(name);
  await api(page, 'POST', '/api/auth/register', { email: address, password: PASSWORD, full_name: fullName }, { status: 201 });
  const { user } = await api(page, 'POST', '/api/auth/login', { email: address, password: PASSWORD });
  return user;
}

/** Signs the admin in (cookies in the page's context). */
export async function adminSignedIn(page) {
  await api(page, 'POST', '/api/auth/login', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
}

/** Opens an account; returns it. */
export function opened(page, currency = 'USD', name = null) {
  return api(page, 'POST', '/api/accounts', { kind: 'checking', currency, name }, { status: 201 });
}

/** Deposits `amount` into the account. */
export function deposited(page, account, amount) {
  return api(page, 'POST', '/api/transactions/deposits', { account_id: account.id, amount }, { status: 201, key: crypto.randomUUID() });
}

/** Completes the profile and submits KYC as the page's user, then approves it as the admin in `adminPage`. */
export async function verified(page, user, adminPage) {
  await api(page, 'PATCH', '/api/me', { date_of_birth: '1990-01-01', address: '1 Main Street' });
  await api(page, 'POST', '/api/me/kyc');
  await api(adminPage, 'POST', `/api/admin/users/${user.id}/kyc`, { decision: 'verified' });
}

/** Goes to a route and waits for its heading (a hash change keeps the old screen until the new one renders). */
export async function visit(page, route, heading) {
  await page.goto(route);
  await page.locator('#main h1').filter({ hasText: heading }).waitFor();
  await page.locator('#main[aria-busy="true"]').waitFor({ state: 'detached' }).catch(() => {});
}

// The dashboard end to end, in headless Chromium against the real binary:
// Alice and Bob register, open accounts and deposit; an admin approves
// Alice's KYC; Alice pays Bob by account number and Bob's card changes
// live in his own browser; history filters; a revoked session is signed
// out; an admin freezes an account and checks the audit chain; a password
// is reset with a token; everything fits a 360 px screen.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, SERVER_LOG, WAIT_MS, expectCount, expectText, person, scenario,
} from './harness.js';

const run = Date.now().toString(36);
const PASSWORD = 'correct horse battery staple';
const alice = { name: 'Alice Archer', email: `alice-${run}@example.com` };
const bob = { name: 'Bob Baker', email: `bob-${run}@example.com` };
let alicePage;
let bobPage;
let bobSecond;
let adminPage;
let bobNumber;
let narrowPage;

/** Signs in through the form. */
async function signIn(page, email, password = PASSWORD) {
  await page.goto('/#/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: /^Hello/ }).waitFor();
}

/** The card of the account with this number. */
function card(page, number) {
  return page.locator(`[data-account-number="${number}"]`);
}

async function register(page, who) {
  await page.goto('/#/register');
  await page.getByLabel('Full name').fill(who.name);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: `Hello, ${who.name.split(' ')[0]}` }).waitFor();
}

async function openAccount(page, { kind = 'checking', currency = 'USD', name = '' } = {}) {
  await page.goto('/#/accounts');
  await page.locator('#main h1').filter({ hasText: /^Hello/ }).waitFor();
  const form = page.getByRole('form', { name: 'Open an account' });
  if (!(await form.isVisible())) await page.getByRole('button', { name: 'Open an account' }).click();
  await form.getByLabel('Kind').selectOption(kind);
  await form.getByLabel('Currency').selectOption(currency);
  await form.getByLabel('Name (optional)').fill(name);
  await form.getByRole('button', { name: 'Open account' }).click();
  await form.getByText(/^Opened /).waitFor();
  const cards = page.locator('[data-account-number]');
  return cards.last().getAttribute('data-account-number');
}

scenario('register checks fields before submitting and shows the server refusal in words', async () => {
  alicePage = await person('alice');
  await alicePage.goto('/');
  await alicePage.getByRole('heading', { name: 'Sign in' }).waitFor();
  await alicePage.goto('/#/register');
  await alicePage.getByRole('button', { name: 'Create account' }).click();
  await alicePage.getByText('Enter your name.').waitFor();
  const email = alicePage.getByLabel('Email');
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  await alicePage.getByLabel('Full name').fill(alice.name);
  await email.fill(alice.email);
  await alicePage.getByLabel('Password', { exact: true }).fill('short');
  await alicePage.getByLabel('Confirm password').fill('short');
  await alicePage.getByRole('button', { name: 'Create account' }).click();
  await alicePage.getByText('Use at least 10 characters.').waitFor();
  await register(alicePage, alice);

  bobPage = await person('bob');
  await bobPage.goto('/#/register');
  await bobPage.getByLabel('Full name').fill(bob.name);
  await bobPage.getByLabel('Email').fill(alice.email);
  await bobPage.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await bobPage.getByLabel('Confirm password').fill(PASSWORD);
  await bobPage.getByRole('button', { name: 'Create account' }).click();
  // The server's refusal, next to the field it is about.
  await bobPage.locator('.field .error', { hasText: /email/i }).waitFor();
  await register(bobPage, bob);
}, () => bobPage);

scenario('users log out and log in again', async () => {
  await alicePage.getByRole('button', { name: 'Sign out' }).click();
  await alicePage.getByRole('heading', { name: 'Sign in' }).waitFor();
  await alicePage.getByLabel('Email').fill(alice.email);
  await alicePage.getByLabel('Password', { exact: true }).fill('wrong password here');
  await alicePage.getByRole('button', { name: 'Sign in' }).click();
  await alicePage.getByRole('alert').filter({ hasText: /email or password/i }).waitFor();
  await signIn(alicePage, alice.email);
}, () => alicePage);

scenario('accounts open and deposits credit them, each form with a fresh idempotency key', async () => {
  const aliceNumber = await openAccount(alicePage, { name: 'Everyday' });
  bobNumber = await openAccount(bobPage);
  assert.match(aliceNumber, /^\d{12}$/);
  await expectText(card(alicePage, aliceNumber).locator('.available'), '$0.00');

  const keys = [];
  alicePage.on('request', (request) => {
    if (request.url().endsWith('/api/transactions/deposits')) keys.push(request.headers()['idempotency-key']);
  });
  await alicePage.goto(`/#/pay/deposit`);
  const form = alicePage.getByRole('form', { name: 'Deposit' });
  await form.getByLabel('Amount').fill('12.345');
  await form.getByRole('button', { name: 'Deposit' }).click();
  await form.getByText('Use at most 2 decimal places for USD.').waitFor();
  assert.equal(keys.length, 0, 'an invalid amount is not sent');
  await form.getByLabel('Amount').fill('100.00');
  await form.getByRole('button', { name: 'Deposit' }).click();
  await form.getByText('Deposited $100.00 to Everyday ••' + aliceNumber.slice(-4) + '.').waitFor();
  await form.getByLabel('Amount').fill('20.50');
  await form.getByLabel('Description (optional)').fill('Birthday money');
  await form.getByRole('button', { name: 'Deposit' }).click();
  await form.getByText(/^Deposited \$20\.50/).waitFor();
  assert.equal(keys.length, 2);
  assert.notEqual(keys[0], keys[1]);
  for (const key of keys) assert.match(key, /^[0-9a-f-]{36}$/);

  // A network failure: the retry of the same form reuses the key, so the
  // server applies it at most once; a double click submits once.
  await alicePage.route('**/api/transactions/deposits', (route) => route.abort('internetdisconnected'), { times: 1 });
  await form.getByLabel('Amount').fill('1.00');
  await form.getByRole('button', { name: 'Deposit' }).click();
  await form.getByRole('alert').filter({ hasText: 'The network failed' }).waitFor();
  await form.getByRole('button', { name: 'Deposit' }).dblclick();
  await form.getByText(/^Deposited \$1\.00/).waitFor();
  assert.equal(keys.length, 4, 'the failed request, then one for the double click');
  assert.equal(keys[3], keys[2], 'the retry reuses the key of the failed attempt');
  assert.notEqual(keys[2], keys[1]);

  await alicePage.goto('/#/accounts');
  await expectText(card(alicePage, aliceNumber).locator('.available'), '$121.50');
  await expectText(alicePage.locator('.totals'), 'Total available: $121.50');
}, () => alicePage);

scenario('an unverified transfer is refused in words; after KYC submission an admin approves it', async () => {
  await alicePage.goto('/#/pay/transfer');
  const form = alicePage.getByRole('form', { name: 'Transfer' });
  await form.getByLabel('Someone else, by account number').check();
  await form.getByLabel('Account number', { exact: true }).fill(bobNumber);
  await form.getByLabel('Amount').fill('25');
  await form.getByRole('button', { name: 'Review transfer' }).click();
  await form.getByRole('button', { name: 'Yes, send $25.00' }).click();
  await form.getByRole('alert').filter({ hasText: /verified identity/i }).getByRole('link', { name: /Verify your identity/ }).waitFor();

  await alicePage.goto('/#/profile');
  const profile = alicePage.getByRole('form', { name: 'Profile' });
  await profile.getByLabel('Phone').fill('12');
  await profile.getByRole('button', { name: 'Save changes' }).click();
  await profile.getByText('Use the international format, e.g. +14155550123.').waitFor();
  await profile.getByLabel('Phone').fill('+14155550123');
  await profile.getByLabel('Address').fill('1 Main Street, Springfield');
  await profile.getByLabel('Date of birth').fill('1990-04-01');
  await profile.getByRole('button', { name: 'Save changes' }).click();
  await profile.getByText('Profile saved.').waitFor();
  await alicePage.getByRole('button', { name: 'Submit for verification' }).click();
  await alicePage.locator('#kyc .badge', { hasText: 'Pending' }).waitFor();

  adminPage = await person('admin');
  await adminPage.goto('/#/login');
  await adminPage.getByLabel('Email').fill(ADMIN_EMAIL);
  await adminPage.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await adminPage.getByRole('button', { name: 'Sign in' }).click();
  // Admins land on their overview, reviews waiting first.
  await adminPage.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();
  const waiting = adminPage.getByRole('table', { name: 'Users waiting for KYC review' });
  await waiting.getByRole('button', { name: `Review ${alice.email}` }).click();
  const review = adminPage.getByRole('form', { name: `KYC review of ${alice.email}` });
  await review.getByRole('button', { name: 'Reject' }).click();
  await review.getByText('Give the customer a reason for the rejection.').waitFor();
  await review.getByRole('button', { name: 'Approve' }).click();
  await waiting.locator(`tr[data-user-email="${alice.email}"]`).waitFor({ state: 'detached' });
  await expectText(adminPage.getByRole('table', { name: 'Users' }).locator(`tr[data-user-email="${alice.email}"] .badge`).last(), 'Verified');

  // The decision reaches Alice's profile live, without a reload.
  await alicePage.locator('#kyc .badge', { hasText: 'Verified' }).waitFor();
}, () => adminPage);

scenario('a transfer by account number changes the recipient balance live in another browser', async () => {
  await bobPage.goto('/#/accounts');
  await expectText(card(bobPage, bobNumber).locator('.available'), '$0.00');
  await bobPage.waitForFunction(() => document.body.dataset.live === 'on');
  await bobPage.evaluate(() => { window.notReloaded = true; });

  await alicePage.goto('/#/pay/transfer');
  const form = alicePage.getByRole('form', { name: 'Transfer' });
  await form.getByLabel('Someone else, by account number').check();
  await form.getByLabel('Account number', { exact: true }).fill(bobNumber.replace(/(\d{4})(?=\d)/g, '$1 '));
  await form.getByLabel('Amount').fill('25.00');
  await form.getByLabel('Description (optional)').fill('Dinner');
  await form.getByRole('button', { name: 'Review transfer' }).click();
  await expectText(form.locator('.payee-name'), 'Bob B.');
  await form.getByRole('button', { name: 'Yes, send $25.00' }).click();
  await form.getByText(/^Sent \$25\.00 to /).waitFor();

  await expectText(card(bobPage, bobNumber).locator('.available'), '$25.00');
  assert.equal(await bobPage.evaluate(() => window.notReloaded), true, 'the balance changed without a reload');

  // More than is available: refused by the server, shown on the amount.
  await form.getByLabel('Amount').fill('5000');
  await form.getByRole('button', { name: 'Review transfer' }).click();
  await form.getByRole('button', { name: 'Yes, send $5,000.00' }).click();
  await form.locator('.field .error', { hasText: /insufficient|available/i }).waitFor();
}, () => bobPage);

scenario('history filters by kind and amount and opens a detail view', async () => {
  await alicePage.goto('/#/history');
  const rows = alicePage.locator('tbody tr[data-transaction-id]');
  await expectCount(rows, 4);
  await alicePage.getByLabel('Kind').selectOption('deposit');
  await alicePage.getByRole('button', { name: 'Apply filters' }).click();
  await expectCount(rows, 3);
  for (const kind of await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind))) assert.equal(kind, 'deposit');
  await alicePage.getByLabel('Minimum amount').fill('50');
  await alicePage.getByRole('button', { name: 'Apply filters' }).click();
  await expectCount(rows, 1);
  assert.match(alicePage.url(), /kind=deposit/);
  assert.match(alicePage.url(), /min_amount=50/);
  await alicePage.getByLabel('Maximum amount').fill('ten');
  await alicePage.getByRole('button', { name: 'Apply filters' }).click();
  await alicePage.getByText('Enter a plain amount like 10 or 10.50.').waitFor();
  await rows.first().getByRole('link').click();
  await alicePage.getByRole('heading', { name: 'Deposit $100.00' }).waitFor();
  await alicePage.getByRole('link', { name: '← Back to history' }).click();
  await expectCount(rows, 1);

  // Pages of two: newest first, older, and back.
  await alicePage.goto('/#/history?limit=2');
  await expectCount(rows, 2);
  const newest = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.transactionId));
  // The old page's rows stay until the new page replaces them, so wait for
  // the pager to say which page is shown, not only for two rows.
  const where = alicePage.locator('.pager .where');
  await expectText(where, '2 shown');
  await alicePage.getByRole('button', { name: 'Older →' }).click();
  await expectText(where, '2 shown (older page)');
  await expectCount(rows, 2);
  const older = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.transactionId));
  assert.equal(new Set([...newest, ...older]).size, 4, 'two pages, four different transactions');
  assert.equal(await alicePage.getByRole('button', { name: 'Older →' }).count(), 0, 'no page after the last');
  await alicePage.getByRole('button', { name: '← Newer' }).click();
  await expectText(where, '2 shown');
  await expectCount(rows, 2);
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.transactionId)), newest);

  await alicePage.getByRole('link', { name: 'Clear' }).click();
  await expectText(where, '4 shown');
  await alicePage.getByLabel('Kind').selectOption('transfer');
  await alicePage.getByRole('button', { name: 'Apply filters' }).click();
  await expectCount(rows, 1);
  await expectText(rows.first().locator('td.num'), '−$25.00');
}, () => alicePage);

scenario('a revoked session is signed out in its browser without a click', async () => {
  bobSecond = await person('bob-phone', { width: 390, height: 800 });
  await bobSecond.goto('/#/login');
  // Keyboard only: from the main region, Tab reaches the email field.
  await bobSecond.locator('#main').focus();
  await bobSecond.keyboard.press('Tab');
  await bobSecond.keyboard.type(bob.email);
  await bobSecond.keyboard.press('Tab');
  await bobSecond.keyboard.type(PASSWORD);
  await bobSecond.keyboard.press('Enter');
  await bobSecond.getByRole('heading', { name: /^Hello/ }).waitFor();
  await bobSecond.waitForFunction(() => document.body.dataset.live === 'on');

  await bobPage.goto('/#/security');
  const sessions = bobPage.locator('tr[data-session-id]');
  await expectCount(sessions, 2);
  await bobPage.getByRole('button', { name: /^Revoke / }).click();
  await expectCount(sessions, 1);
  await bobSecond.getByText('Your session has ended. Please sign in again.').waitFor({ timeout: WAIT_MS });
  await bobSecond.getByRole('heading', { name: 'Sign in' }).waitFor();
}, () => bobSecond);

scenario('an admin freezes and unfreezes an account and verifies the audit chain', async () => {
  await bobPage.goto('/#/accounts');
  await adminPage.goto('/#/admin');
  await adminPage.getByRole('button', { name: `Review ${bob.email}` }).first().click();
  const row = adminPage.locator(`tr[data-account-number="${bobNumber}"]`);
  await row.getByRole('button', { name: /^Freeze/ }).click();
  await expectText(row.locator('.badge'), 'Frozen');
  await expectText(card(bobPage, bobNumber).locator('.badge'), 'Frozen');
  await row.getByRole('button', { name: /^Unfreeze/ }).click();
  await expectText(row.locator('.badge'), 'Active');

  await adminPage.getByRole('button', { name: 'Verify the hash chain' }).click();
  await adminPage.getByText(/^Chain intact: \d+ records verified/).waitFor();
  await adminPage.getByRole('table', { name: 'Audit records' }).getByText('account.freeze').first().waitFor();
}, () => adminPage);

scenario('a password is reset with the emailed token and the new one signs in', async () => {
  assert.ok(SERVER_LOG, 'LEDGER_E2E_SERVER_LOG names the server log with reset tokens');
  const page = await person('alice-reset');
  await page.goto('/#/reset');
  await page.getByRole('form', { name: 'Request a reset token' }).getByLabel('Email').fill(alice.email);
  await page.getByRole('button', { name: 'Send reset token' }).click();
  await page.getByText(/reset token is on its way/).waitFor();
  let token = '';
  for (let i = 0; i < 50 && !token; i += 1) {
    const lines = readFileSync(SERVER_LOG, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => l.includes(alice.email) && l.includes('token'));
    token = /token="?([A-Za-z0-9_-]{20,})/.exec(lines.at(-1) ?? '')?.[1] ?? '';
    if (!token) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(token, 'the development notifier logged a token');
  const confirm = page.getByRole('form', { name: 'Set a new password' });
  await confirm.getByLabel('Reset token').fill('not-a-real-token');
  await confirm.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
  await confirm.getByLabel('Confirm new password').fill('a brand new passphrase');
  await confirm.getByRole('button', { name: 'Set new password' }).click();
  await confirm.locator('.field .error').first().waitFor();
  await confirm.getByLabel('Reset token').fill(token);
  await confirm.getByRole('button', { name: 'Set new password' }).click();
  await page.getByText('Your password was changed. Sign in with the new one.').waitFor();
  // The reset ended every session, the one in Alice's first browser too.
  await alicePage.goto('/#/accounts');
  await alicePage.getByRole('heading', { name: 'Sign in' }).waitFor();
  await signIn(page, alice.email, 'a brand new passphrase');
}, () => alicePage);

scenario('the accounts and payment screens fit a 360 px wide screen', async () => {
  const page = await person('narrow', { width: 360, height: 740 });
  await signIn(page, bob.email);
  // A hash change keeps the previous screen until the new one renders, so
  // wait for each screen's own heading before measuring it.
  const screens = [['/#/accounts', /^Hello/], ['/#/pay/transfer', 'Move money'], ['/#/history', 'History'], ['/#/security', 'Security']];
  for (const [route, heading] of screens) {
    await page.goto(route);
    await page.locator('#main h1').filter({ hasText: heading }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${route} overflows by ${overflow}px`);
  }
  await page.goto('/#/accounts');
  await card(page, bobNumber).waitFor();
  narrowPage = page;
}, () => narrowPage);

// Balances over time and reversals, end to end in headless Chromium: Carol's
// account page charts her balance after each deposit (none, one, then
// three) and downloads a CSV statement whose opening balance plus its
// changes is its closing balance; an admin reverses part of a deposit from
// its detail view after confirming it (a cancelled confirmation and a
// refused amount change nothing), then the whole of another, and Carol's
// balance drops by that much; a stale view's second reversal is refused
// in the server's words; Carol sees the reversals but no Reverse action.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ADMIN_EMAIL, ADMIN_PASSWORD, expectCount, expectText, person, scenario,
} from './harness.js';

const run = Date.now().toString(36);
const PASSWORD = 'correct horse battery staple';
const carol = { name: 'Carol Cooper', email: `carol-${run}@example.com` };
let carolPage;
let adminPage;
let narrowPage;
let carolNumber;
let carolAccountId;
let depositId;
let giftId;

async function register(page, who) {
  await page.goto('/#/register');
  await page.getByLabel('Full name').fill(who.name);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: `Hello, ${who.name.split(' ')[0]}` }).waitFor();
}

async function signIn(page, email, password) {
  await page.goto('/#/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: /^(Hello|Administration)/ }).waitFor();
}

async function openAccount(page, name) {
  await page.goto('/#/accounts');
  await page.locator('#main h1').filter({ hasText: /^Hello/ }).waitFor();
  const form = page.getByRole('form', { name: 'Open an account' });
  if (!(await form.isVisible())) await page.getByRole('button', { name: 'Open an account' }).click();
  await form.getByLabel('Name (optional)').fill(name);
  await form.getByRole('button', { name: 'Open account' }).click();
  await form.getByText(/^Opened /).waitFor();
  return page.locator('[data-account-number]').last().getAttribute('data-account-number');
}

async function deposit(page, amount, description = '') {
  await page.goto(`/#/pay/deposit?account=${carolAccountId}`);
  const form = page.getByRole('form', { name: 'Deposit' });
  await form.getByLabel('Amount').fill(amount);
  await form.getByLabel('Description (optional)').fill(description);
  await form.getByRole('button', { name: 'Deposit' }).click();
  await form.getByText(new RegExp(`^Deposited \\$${amount.replace('.', '\\.')}`)).waitFor();
}

/** Opens the account page from the accounts list and waits for its chart. */
async function openAccountPage(page, number, heading) {
  await page.goto('/#/accounts');
  await page.locator(`[data-account-number="${number}"]`).getByRole('link', { name: /^Balance over time and statement/ }).click();
  await page.locator('#main h1').filter({ hasText: heading }).waitFor();
  await page.locator('figure.chart svg[role="img"]').waitFor();
}

/** RFC 4180: fields separated by commas, quoted when they hold commas, quotes or line breaks. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let value = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { value += '"'; i += 1; } else if (c === '"') quoted = false;
      else value += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(value); value = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(value);
      rows.push(row);
      row = [];
      value = '';
    } else value += c;
  }
  if (value || row.length) rows.push([...row, value]);
  return rows;
}

/** A decimal string as BigInt cents (the statement is in USD). */
function cents(amount) {
  const [, sign, whole, fraction = ''] = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  const units = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
  return sign ? -units : units;
}

scenario('an account page charts the balance after each deposit and downloads a statement that adds up', async () => {
  carolPage = await person('carol');
  await register(carolPage, carol);
  carolNumber = await openAccount(carolPage, 'Rainy day');
  carolAccountId = await carolPage.locator(`[data-account-number="${carolNumber}"]`).getAttribute('data-account-id');
  const points = carolPage.locator('figure.chart circle.point');
  const tableRows = carolPage.locator('figure.chart .visually-hidden table.chart-table tbody tr');
  const chart = carolPage.locator('figure.chart svg[role="img"]');

  // No postings yet: a flat line, said so in words.
  await openAccountPage(carolPage, carolNumber, 'Rainy day');
  await expectCount(points, 0);
  await expectCount(tableRows, 0);
  assert.equal(await chart.getAttribute('aria-label'), 'Balance over the last 30 days: $0.00 throughout, no changes.');
  await carolPage.getByText('No changes in this period').waitFor();

  // One deposit, one point.
  await deposit(carolPage, '100.00');
  await openAccountPage(carolPage, carolNumber, 'Rainy day');
  await expectCount(points, 1);
  await expectText(carolPage.locator('.account-figures .available'), '$100.00');

  // Three deposits, three points; a description that CSV must quote.
  await deposit(carolPage, '20.50', 'Gift, from "Gran"');
  await deposit(carolPage, '0.75');
  await openAccountPage(carolPage, carolNumber, 'Rainy day');
  await expectCount(points, 3);
  await expectCount(tableRows, 3);
  assert.deepEqual(await points.evaluateAll((cs) => cs.map((c) => c.dataset.balance)), ['100.00', '120.50', '121.25']);
  assert.deepEqual(await tableRows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].slice(1).map((td) => td.textContent))),
    [['+$100.00', '$100.00'], ['+$20.50', '$120.50'], ['+$0.75', '$121.25']]);
  assert.equal(await chart.getAttribute('aria-label'),
    'Balance over the last 30 days: from $0.00 to $121.25; lowest $0.00, highest $121.25; 3 changes.');
  // Tick labels are money, formatted from exact values.
  const ticks = await carolPage.locator('figure.chart .y-tick text').allTextContents();
  assert.ok(ticks.length >= 3, `y ticks: ${ticks}`);
  for (const tick of ticks) assert.match(tick, /^\$\d{1,3}(,\d{3})*\.\d{2}$/);
  // The recent transactions reuse the history table.
  await expectCount(carolPage.locator('tbody tr[data-transaction-id]'), 3);

  // Other periods, by the address.
  await carolPage.getByRole('link', { name: 'All time' }).click();
  await carolPage.locator('.tabs a[aria-current="page"]', { hasText: 'All time' }).waitFor();
  await expectCount(points, 3);
  await carolPage.getByRole('link', { name: 'Last 7 days' }).click();
  await carolPage.locator('.tabs a[aria-current="page"]', { hasText: 'Last 7 days' }).waitFor();
  await expectCount(points, 3);
  assert.match(carolPage.url(), /#\/accounts\/[0-9a-f-]{36}\?range=7d$/);

  // A period that ends before it starts is caught before asking.
  const statement = carolPage.getByRole('form', { name: 'Statement' });
  const today = await statement.getByLabel('To date (inclusive)').inputValue();
  await statement.getByLabel('From date').fill(today);
  await statement.getByLabel('To date (inclusive)').fill('2000-01-01');
  await statement.getByRole('button', { name: 'Download statement (CSV)' }).click();
  await statement.getByText('The end date is before the start date.').waitFor();
  await statement.getByLabel('To date (inclusive)').fill(today);

  const [download] = await Promise.all([
    carolPage.waitForEvent('download'),
    statement.getByRole('button', { name: 'Download statement (CSV)' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `statement-${carolNumber}-${today}-to-${today}.csv`);
  await statement.getByText(/^Downloaded statement-/).waitFor();
  const rows = parseCsv(readFileSync(await download.path(), 'utf8'));
  assert.deepEqual(rows[0], ['date', 'transaction_id', 'kind', 'description', 'change', 'balance']);
  const body = rows.slice(1);
  assert.equal(body[0][2], 'opening');
  assert.equal(body.at(-1)[2], 'closing');
  const postings = body.slice(1, -1);
  assert.equal(postings.length, 3);
  assert.deepEqual(postings.map((r) => r[4]), ['100.00', '20.50', '0.75']);
  assert.equal(postings[1][3], 'Gift, from "Gran"');
  const opening = cents(body[0][5]);
  const closing = cents(body.at(-1)[5]);
  assert.equal(opening + postings.reduce((sum, r) => sum + cents(r[4]), 0n), closing, 'opening + changes = closing');
  assert.equal(body.at(-1)[5], '121.25');
  for (const r of postings) assert.match(r[1], /^[0-9a-f-]{36}$/);
  depositId = postings[0][1];
  giftId = postings[1][1];
}, () => carolPage);

scenario('an admin reverses part of a deposit from its detail view after confirming, and the balance drops', async () => {
  adminPage = await person('admin');
  await signIn(adminPage, ADMIN_EMAIL, ADMIN_PASSWORD);
  const keys = [];
  adminPage.on('request', (request) => {
    if (request.url().endsWith('/reverse')) keys.push(request.headers()['idempotency-key']);
  });
  await adminPage.goto(`/#/history/${depositId}`);
  await adminPage.getByRole('heading', { name: 'Deposit $100.00' }).waitFor();
  const postings = adminPage.getByRole('table', { name: 'Postings' });
  await expectCount(postings.locator('tbody tr'), 1);
  // Admins see which ledger account paid in.
  await postings.getByText(/@settlement:usd/).waitFor();

  const form = adminPage.getByRole('form', { name: 'Reverse this transaction' });
  const confirm = adminPage.getByRole('form', { name: 'Confirm the reversal' });
  // Reverse asks first; cancelling sends nothing and changes nothing.
  await form.getByRole('button', { name: 'Reverse', exact: true }).click();
  await confirm.getByText('Reverse 100.00 USD of this deposit?').waitFor();
  assert.ok(await form.isHidden(), 'the form gives way to the confirmation');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'detached' });
  await form.waitFor();
  assert.equal(keys.length, 0, 'a cancelled confirmation sends nothing');

  await form.getByLabel('Part of it').check();
  await form.getByLabel('Amount to reverse').fill('30.001');
  await form.getByRole('button', { name: 'Reverse', exact: true }).click();
  await form.getByText('Use at most 2 decimal places for USD.').waitFor();
  await form.getByLabel('Amount to reverse').fill('500');
  await form.getByRole('button', { name: 'Reverse', exact: true }).click();

  // The confirmation names the amount; nothing is sent before it.
  await confirm.getByText('Reverse 500.00 USD of this deposit?').waitFor();
  assert.equal(keys.length, 0, 'nothing is sent before the confirmation');
  // More than the deposit: the server refuses, in its words.
  await confirm.getByRole('button', { name: 'Yes, reverse' }).click();
  await confirm.getByRole('alert').filter({ hasText: 'That is more than is left to reverse.' }).waitFor();
  assert.equal(keys.length, 1);
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'detached' });
  // Neither the refusal nor the cancellation changed anything.
  const unchanged = await (await adminPage.request.get(`/api/transactions/${depositId}`)).json();
  assert.equal(unchanged.reversed_amount ?? null, null);
  assert.equal((await (await adminPage.request.get(`/api/accounts/${carolAccountId}`)).json()).balance.posted, '121.25');
  assert.equal(await adminPage.locator('.reversed').count(), 0);

  await form.getByLabel('Amount to reverse').fill('30');
  await form.getByRole('button', { name: 'Reverse', exact: true }).click();
  await confirm.getByText('Reverse 30.00 USD of this deposit?').waitFor();
  await confirm.getByRole('button', { name: 'Yes, reverse' }).dblclick();
  await adminPage.locator('#main').getByText('Reversed $30.00.').waitFor();
  assert.equal(keys.length, 2, 'one request for the double click');
  assert.notEqual(keys[1], keys[0], 'a fresh key per confirmed submission');
  for (const key of keys) assert.match(key, /^[0-9a-f-]{36}$/);
  // The view is refreshed: what is reversed and what is left.
  await expectText(adminPage.locator('.reversed'), '$30.00 of $100.00 ($70.00 left to reverse)');
  await adminPage.getByText('All that is left ($70.00)').waitFor();

  await adminPage.getByRole('link', { name: 'Open the reversal' }).click();
  await adminPage.getByRole('heading', { name: 'Reversal $30.00' }).waitFor();
  await adminPage.getByRole('link', { name: /^Deposit \$100\.00 of / }).waitFor();
  // A reversal itself offers no Reverse action.
  assert.equal(await adminPage.getByRole('form', { name: 'Reverse this transaction' }).count(), 0);

  // Carol's balance dropped by what was reversed; the chart has the fourth point.
  await openAccountPage(carolPage, carolNumber, 'Rainy day');
  await expectText(carolPage.locator('.account-figures .available'), '$91.25');
  await expectCount(carolPage.locator('figure.chart circle.point'), 4);
  assert.equal(await carolPage.locator('figure.chart circle.point').last().getAttribute('data-balance'), '91.25');
}, () => adminPage);

scenario('an admin reverses a whole deposit; a second reversal from a stale view is refused and changes nothing', async () => {
  // A second tab opened before the reversal keeps the old view.
  const stale = await adminPage.context().newPage();
  stale.label = 'admin-stale';
  await stale.goto(`/#/history/${giftId}`);
  await stale.getByRole('heading', { name: 'Deposit $20.50' }).waitFor();

  await adminPage.goto(`/#/history/${giftId}`);
  await adminPage.getByRole('heading', { name: 'Deposit $20.50' }).waitFor();
  const form = adminPage.getByRole('form', { name: 'Reverse this transaction' });
  assert.ok(await form.getByLabel('All that is left ($20.50)').isChecked(), 'all of it by default');
  await form.getByLabel('Description (optional)').fill('Refund: sent twice');
  await form.getByRole('button', { name: 'Reverse', exact: true }).click();
  const confirm = adminPage.getByRole('form', { name: 'Confirm the reversal' });
  await confirm.getByText('Reverse 20.50 USD of this deposit?').waitFor();
  await confirm.getByRole('button', { name: 'Yes, reverse' }).click();
  await adminPage.locator('#main').getByText('Reversed $20.50.').waitFor();
  await expectText(adminPage.locator('.reversed'), '$20.50, all of it');
  await adminPage.getByText('All of it has been reversed.').waitFor();
  assert.equal(await form.count(), 0, 'nothing is left to reverse');
  await adminPage.getByRole('link', { name: 'Open the reversal' }).click();
  await adminPage.getByRole('heading', { name: 'Reversal $20.50' }).waitFor();
  await adminPage.getByText('Refund: sent twice').waitFor();

  // The stale tab still offers it; the server refuses, and says why.
  const staleForm = stale.getByRole('form', { name: 'Reverse this transaction' });
  await staleForm.getByRole('button', { name: 'Reverse', exact: true }).click();
  const staleConfirm = stale.getByRole('form', { name: 'Confirm the reversal' });
  await staleConfirm.getByRole('button', { name: 'Yes, reverse' }).click();
  await staleConfirm.getByRole('alert').filter({ hasText: 'All of this transaction has already been reversed.' }).waitFor();
  await stale.close();
  const reversals = await (await adminPage.request.get(`/api/transactions?account_id=${carolAccountId}&kind=reversal`)).json();
  assert.equal(reversals.items.length, 2, 'one reversal of each deposit, no more');
  assert.equal((await (await adminPage.request.get(`/api/accounts/${carolAccountId}`)).json()).balance.posted, '70.75');

  await openAccountPage(carolPage, carolNumber, 'Rainy day');
  await expectText(carolPage.locator('.account-figures .available'), '$70.75');
  await expectCount(carolPage.locator('figure.chart circle.point'), 5);
  assert.equal(await carolPage.locator('figure.chart circle.point').last().getAttribute('data-balance'), '70.75');
}, () => adminPage);

scenario('a customer sees the reversal on her deposit but no Reverse action', async () => {
  await carolPage.goto(`/#/history/${depositId}`);
  await carolPage.getByRole('heading', { name: 'Deposit $100.00' }).waitFor();
  await expectText(carolPage.locator('.reversed'), '$30.00 of $100.00 ($70.00 left to reverse)');
  await expectCount(carolPage.getByRole('table', { name: 'Postings' }).locator('tbody tr'), 1);
  await carolPage.getByRole('table', { name: 'Postings' }).getByRole('link', { name: /^Rainy day/ }).waitFor();
  assert.equal(await carolPage.getByRole('button', { name: 'Reverse', exact: true }).count(), 0);
  assert.equal(await carolPage.getByRole('form', { name: 'Reverse this transaction' }).count(), 0);
  assert.equal(await carolPage.getByRole('heading', { name: 'Reverse', exact: true }).count(), 0);

  // Her history lists the reversals as money out of the account, newest first.
  await carolPage.goto('/#/history?kind=reversal');
  const rows = carolPage.locator('tbody tr[data-transaction-id]');
  await expectCount(rows, 2);
  await expectText(rows.nth(0).locator('td.num'), '−$20.50');
  await expectText(rows.nth(1).locator('td.num'), '−$30.00');
}, () => carolPage);

scenario('the account page fits a 360 px wide screen', async () => {
  narrowPage = await person('carol-narrow', { width: 360, height: 740 });
  await signIn(narrowPage, carol.email, PASSWORD);
  await openAccountPage(narrowPage, carolNumber, 'Rainy day');
  await expectCount(narrowPage.locator('figure.chart circle.point'), 5);
  const overflow = await narrowPage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  // What sticks out, for the failure message.
  const wide = await narrowPage.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 8).map((el) => `${el.tagName.toLowerCase()}.${el.getAttribute('class') ?? ''} right=${Math.round(el.getBoundingClientRect().right)}`));
  assert.ok(overflow <= 0, `the account page overflows by ${overflow}px: ${wide.join(', ')}`);
}, () => narrowPage);

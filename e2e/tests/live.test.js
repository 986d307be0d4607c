// What changes by itself, at desktop width and on a 375 px phone: an
// account frozen by an admin loses its Deposit and Transfer buttons and the
// payment forms explain why, live; the account's own page follows a freeze
// and a rename without a reload; a KYC decision reaches the profile
// live; money from someone else shows a toast naming them; a dropped
// connection shows the offline banner until it is back.

import assert from 'node:assert/strict';
import { PHONE, expectText, person, scenario, step } from './harness.js';
import { adminSignedIn, api, deposited, opened, registered, verified, visit } from './people.js';

const SIZES = [['desktop', { width: 1280, height: 860 }], ['phone', PHONE]];
let admin;

for (const [size, viewport] of SIZES) {
  let dana;
  let danaUser;
  let account;
  let page;

  scenario(`${size}: an account frozen by an admin loses its buttons live, and Move money says why`, async () => {
    admin ??= await person('admin-live');
    await adminSignedIn(admin);
    dana = await person(`dana-${size}`, viewport);
    danaUser = await registered(dana, 'Dana Dunn', `dana-${size}`);
    account = await opened(dana, 'USD', 'Daily');
    const spare = await opened(dana, 'EUR', 'Travel');
    await visit(dana, '/#/accounts', /^Hello/);
    const card = dana.locator(`[data-account-id="${account.id}"]`);
    await card.getByRole('link', { name: /^Deposit to/ }).waitFor();
    await dana.waitForFunction(() => document.body.dataset.live === 'on');
    await step(dana, 'active');

    await api(admin, 'POST', `/api/accounts/${account.id}/freeze`);
    await expectText(card.locator('.badge'), 'Frozen');
    assert.equal(await card.getByRole('link', { name: /^Deposit to|^Transfer from/ }).count(), 0, 'no money buttons on a frozen card');
    await card.getByText(/Frozen by our team/).waitFor();
    await step(dana, 'frozen card');

    // The payment screen, open while the other account is frozen too, follows.
    await dana.getByRole('link', { name: 'Move money' }).click();
    await dana.getByRole('form', { name: 'Deposit' }).waitFor();
    await dana.locator('.frozen-note').filter({ hasText: 'Daily' }).waitFor();
    await api(admin, 'POST', `/api/accounts/${spare.id}/freeze`);
    await dana.getByText('None of your accounts can move money right now:').waitFor();
    await dana.getByRole('listitem').filter({ hasText: /Daily.*frozen by our team/ }).waitFor();
    assert.equal(await dana.getByRole('form', { name: 'Deposit' }).count(), 0);
    await step(dana, 'move money explains');
    await api(admin, 'POST', `/api/accounts/${account.id}/unfreeze`);
    await dana.getByRole('form', { name: 'Deposit' }).waitFor();
    page = dana;
  }, () => page);

  scenario(`${size}: the account page follows a freeze live, and the owner renames the account`, async () => {
    await visit(dana, `/#/accounts/${account.id}`, 'Daily');
    await dana.waitForFunction(() => document.body.dataset.live === 'on');
    const head = dana.locator('#main .page-head');
    await head.getByRole('link', { name: 'Deposit', exact: true }).waitFor();
    await dana.evaluate(() => { window.notReloaded = true; });

    await api(admin, 'POST', `/api/accounts/${account.id}/freeze`);
    await dana.locator('.status-note[data-status="frozen"]').filter({ hasText: 'frozen by our team' }).waitFor();
    await expectText(dana.locator('.account-figures .badge'), 'Frozen');
    assert.equal(await head.getByRole('link', { name: /^(Deposit|Transfer)$/ }).count(), 0, 'no money buttons on a frozen account');
    await step(dana, 'account page frozen live');

    const rename = dana.getByRole('form', { name: 'Rename the account' });
    await rename.getByLabel('Account name').fill('  Bills and rent ');
    await rename.getByRole('button', { name: 'Save name' }).click();
    await dana.locator('#main h1').filter({ hasText: 'Bills and rent' }).waitFor();
    assert.equal((await api(dana, 'GET', `/api/accounts/${account.id}`)).name, 'Bills and rent');
    await step(dana, 'renamed');

    await api(admin, 'POST', `/api/accounts/${account.id}/unfreeze`);
    await head.getByRole('link', { name: 'Deposit', exact: true }).waitFor();
    assert.equal(await dana.locator('.status-note').count(), 0, 'no status note once active again');
    assert.equal(await dana.evaluate(() => window.notReloaded), true, 'followed without a reload');
    await api(dana, 'PATCH', `/api/accounts/${account.id}`, { name: 'Daily' });
    await dana.locator('#main h1').filter({ hasText: 'Daily' }).waitFor();
    await step(dana, 'active again');
  }, () => dana);

  scenario(`${size}: a KYC decision reaches the open profile without a reload`, async () => {
    await visit(dana, '/#/profile', 'Profile');
    await dana.evaluate(() => { window.notReloaded = true; });
    await api(dana, 'PATCH', '/api/me', { date_of_birth: '1991-02-03', address: '2 Side Street' });
    await dana.getByRole('button', { name: 'Submit for verification' }).waitFor();
    await dana.getByRole('button', { name: 'Submit for verification' }).click();
    await dana.locator('#kyc .badge', { hasText: 'Pending' }).waitFor();
    await dana.getByText('This page updates by itself').waitFor();
    await step(dana, 'pending');
    await api(admin, 'POST', `/api/admin/users/${danaUser.id}/kyc`, { decision: 'verified' });
    await dana.locator('#kyc .badge', { hasText: 'Verified' }).waitFor();
    assert.equal(await dana.evaluate(() => window.notReloaded), true);
    await step(dana, 'verified live');
  }, () => dana);

  scenario(`${size}: money from someone else shows a toast naming them`, async () => {
    const erin = await person(`erin-${size}`);
    const erinUser = await registered(erin, 'Erin Ellis', `erin-${size}`);
    const from = await opened(erin);
    await deposited(erin, from, '100.00');
    await verified(erin, erinUser, admin);
    await visit(dana, '/#/accounts', /^Hello/);
    await dana.waitForFunction(() => document.body.dataset.live === 'on');
    await api(erin, 'POST', '/api/transactions/transfers', { from_account_id: from.id, to_account_number: account.number, amount: '42.50' },
      { status: 201, key: crypto.randomUUID() });
    const toast = dana.locator('#toasts .toast');
    await expectText(toast.locator('a'), 'You received $42.50 from Erin E.');
    await step(dana, 'toast');
    await toast.getByRole('button', { name: 'Dismiss' }).click();
    await toast.waitFor({ state: 'detached' });
    // One's own deposit is no surprise: no toast.
    await deposited(dana, account, '1.00');
    await expectText(dana.locator(`[data-account-id="${account.id}"] .available`), '$43.50');
    assert.equal(await toast.count(), 0);
  }, () => dana);

  scenario(`${size}: the offline banner shows while the connection is down`, async () => {
    await visit(dana, '/#/accounts', /^Hello/);
    await dana.waitForFunction(() => document.body.dataset.live === 'on');
    const banner = dana.locator('#offline');
    assert.equal(await banner.isVisible(), false);
    await dana.context().setOffline(true);
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.textContent(), /offline/);
    await step(dana, 'offline');
    await dana.context().setOffline(false);
    await banner.waitFor({ state: 'hidden' });
    await dana.waitForFunction(() => document.body.dataset.live === 'on');
  }, () => dana);
}

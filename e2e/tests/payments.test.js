// Moving money as a new customer would, at desktop width and on a 375 px
// phone: KYC guides instead of dead-ending (what is missing, a link to the
// profile), refusals are in words, a transfer lists only valid
// destinations and confirms the payee's name before money goes to a
// stranger, both sides then see each other's name in history, holds are
// placed, captured and released, an account number is copied and an
// emptied account closed. History keeps its filters when they are wrong.

import assert from 'node:assert/strict';
import { PHONE, expectCount, expectText, overflow, person, scenario, step } from './harness.js';
import { adminSignedIn, api, deposited, opened, registered, visit } from './people.js';

const SIZES = [['desktop', { width: 1280, height: 860 }], ['phone', PHONE]];
let admin;

for (const [size, viewport] of SIZES) {
  let fay;
  let fayUser;
  let gus;
  let usd;
  let eur;
  let savings;
  let gusAccount;

  scenario(`${size}: KYC guides: what is missing, a link to the profile, then submission`, async () => {
    admin ??= await person('admin-pay');
    await adminSignedIn(admin);
    fay = await person(`fay-${size}`, viewport);
    fayUser = await registered(fay, 'Fay Fisher', `fay-${size}`);
    usd = await opened(fay, 'USD', 'Main');
    savings = await opened(fay, 'USD', 'Savings');
    eur = await opened(fay, 'EUR', 'Euro');
    await deposited(fay, usd, '200.00');
    await visit(fay, '/#/pay/withdraw', 'Move money');
    const notice = fay.locator('.kyc-notice');
    await notice.getByRole('link', { name: 'Go to your profile →' }).waitFor();
    const form = fay.getByRole('form', { name: 'Withdraw' });
    await form.getByLabel('Amount').fill('10');
    await form.getByRole('button', { name: 'Withdraw' }).click();
    // The refusal in words, with the way forward; never the server's string.
    const alert = form.getByRole('alert');
    await expectText(alert, 'You need a verified identity to send money out of your accounts. Verify your identity on your profile →');
    await step(fay, 'kyc refusal');
    await alert.getByRole('link').click();
    await fay.locator('#main h1').filter({ hasText: 'Profile' }).waitFor();
    await fay.locator('#kyc-missing').getByText('your date of birth').waitFor();
    await fay.getByRole('button', { name: 'Submit for verification' }).click();
    // Refused before it is sent, with focus on the first missing field.
    const birth = fay.getByLabel('Date of birth');
    await fay.waitForFunction(() => document.activeElement?.name === 'date_of_birth');
    assert.equal(await birth.getAttribute('aria-invalid'), 'true');
    await step(fay, 'kyc missing');
    await birth.fill('1988-08-08');
    await fay.getByLabel('Address').fill('8 Eight Street');
    await fay.getByRole('button', { name: 'Save changes' }).click();
    await fay.getByRole('form', { name: 'Profile' }).getByText('Profile saved.').waitFor();
    await fay.getByRole('button', { name: 'Submit for verification' }).click();
    await fay.locator('#kyc .badge', { hasText: 'Pending' }).waitFor();
    await api(admin, 'POST', `/api/admin/users/${fayUser.id}/kyc`, { decision: 'verified' });
    await fay.locator('#kyc .badge', { hasText: 'Verified' }).waitFor();
  }, () => fay);

  scenario(`${size}: a transfer lists only valid destinations and confirms the payee by name`, async () => {
    gus = await person(`gus-${size}`, viewport);
    await registered(gus, 'Gus Grant', `gus-${size}`);
    gusAccount = await opened(gus, 'USD');
    await visit(fay, `/#/pay/transfer?account=${usd.id}`, 'Move money');
    const form = fay.getByRole('form', { name: 'Transfer' });
    const options = await form.getByLabel('To my account').locator('option').allTextContents();
    assert.deepEqual(options.map((o) => o.split(' ')[0]), ['Savings'], 'not the source, not another currency');
    await form.getByLabel('From').selectOption(eur.id);
    await expectText(form.getByLabel('To my account').locator('option'), 'No other EUR account');
    await form.getByLabel('From').selectOption(usd.id);
    await form.getByLabel('Someone else, by account number').check();
    await form.getByLabel('Account number', { exact: true }).fill(gusAccount.number);
    await form.getByLabel('Amount').fill('30');
    await form.getByRole('button', { name: 'Review transfer' }).click();
    await expectText(form.locator('.payee-name'), 'Gus G.');
    await step(fay, 'payee review');
    assert.equal(await overflow(fay), 0);
    // Cancel sends nothing.
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.getByRole('button', { name: 'Review transfer' }).click();
    await form.getByRole('button', { name: 'Yes, send $30.00' }).click();
    await form.getByText(/^Sent \$30\.00 to /).waitFor();
    // A number in another currency: a field error, nothing sent.
    const euro = await opened(gus, 'EUR');
    await form.getByLabel('Account number', { exact: true }).fill(euro.number);
    await form.getByLabel('Amount').fill('5');
    await form.getByRole('button', { name: 'Review transfer' }).click();
    await form.getByText('No account in this currency has that number. Check it and try again.').waitFor();
    await fay.waitForFunction(() => document.activeElement?.name === 'to_number');
    await step(fay, 'payee not found');

    // Both sides name the other in history.
    await visit(fay, '/#/history?kind=transfer', 'History');
    await expectText(fay.locator('tbody tr').first().locator('td.what a'), 'Transfer to Gus G.');
    await visit(gus, '/#/history', 'History');
    await expectText(gus.locator('tbody tr').first().locator('td.what a'), 'Transfer from Fay F.');
    await step(gus, 'named counterparty');
  }, () => gus);

  scenario(`${size}: a hold is placed, captured by the payee in part, another released`, async () => {
    await visit(fay, `/#/pay/hold?account=${usd.id}`, 'Move money');
    const form = fay.getByRole('form', { name: 'Hold' });
    await form.getByLabel('Someone else, by account number').check();
    await form.getByLabel('Account number', { exact: true }).fill(gusAccount.number);
    await form.getByLabel('Amount').fill('20');
    await form.getByRole('button', { name: 'Review hold' }).click();
    await form.getByRole('button', { name: 'Yes, hold $20.00' }).click();
    await form.getByText(/^Held \$20\.00 until /).waitFor();
    await step(fay, 'hold placed');
    // The payee captures part of it from its page.
    await visit(gus, '/#/history?kind=hold', 'History');
    await gus.locator('tbody tr').first().getByRole('link').click();
    const capture = gus.getByRole('form', { name: 'Capture the hold' });
    await capture.getByLabel('Amount to capture').fill('25');
    await capture.getByRole('button', { name: 'Capture' }).click();
    await capture.getByText('You cannot capture more than the amount held.').waitFor();
    await capture.getByLabel('Amount to capture').fill('12.50');
    await capture.getByRole('button', { name: 'Capture' }).click();
    await gus.getByText('Hold captured: $12.50.').waitFor();
    await step(gus, 'hold captured');
    // A hold toward no one is its owner's to release.
    await visit(fay, `/#/pay/hold?account=${usd.id}`, 'Move money');
    await fay.getByRole('form', { name: 'Hold' }).getByLabel('No one yet: keep it on my account').check();
    await fay.getByRole('form', { name: 'Hold' }).getByLabel('Amount').fill('5');
    await fay.getByRole('form', { name: 'Hold' }).getByRole('button', { name: 'Review hold' }).click();
    await fay.getByRole('form', { name: 'Hold' }).getByText(/^Held \$5\.00/).waitFor();
    await visit(fay, '/#/history?kind=hold&status=pending', 'History');
    await expectCount(fay.locator('tbody tr'), 1);
    await fay.locator('tbody tr').first().getByRole('link').click();
    await fay.getByRole('form', { name: 'Release the hold' }).getByRole('button', { name: 'Release' }).click();
    await fay.getByText('Hold released.').waitFor();
    await step(fay, 'hold released');
  }, () => fay);

  scenario(`${size}: an account number is copied, an emptied account closed, a non-empty one refused in words`, async () => {
    await fay.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await visit(fay, '/#/accounts', /^Hello/);
    await fay.getByRole('button', { name: `Copy account number ${usd.number.replace(/(\d{4})(?=\d)/g, '$1 ')}` }).first().click();
    assert.equal(await fay.evaluate(() => navigator.clipboard.readText()), usd.number);
    await visit(fay, `/#/accounts/${usd.id}`, 'Main');
    await fay.getByRole('button', { name: 'Close account…' }).click();
    await fay.getByRole('button', { name: 'Yes, close it' }).click();
    await fay.getByRole('alert').filter({ hasText: 'Move the money out of this account before closing it' }).waitFor();
    await step(fay, 'close refused');
    await visit(fay, `/#/accounts/${eur.id}`, 'Euro');
    await fay.getByRole('button', { name: 'Close account…' }).click();
    await fay.getByRole('button', { name: 'Yes, close it' }).click();
    await fay.getByText(/is closed\.$/).first().waitFor();
    await visit(fay, '/#/accounts', /^Hello/);
    await expectText(fay.locator(`[data-account-id="${eur.id}"] .badge`), 'Closed');
    await step(fay, 'closed');
  }, () => fay);

  scenario(`${size}: history with the minimum above the maximum is a field error and the page stays`, async () => {
    await visit(fay, '/#/history', 'History');
    const filters = fay.locator('details.filters-panel');
    if (size === 'phone') {
      assert.equal(await filters.getAttribute('open'), null, 'filters folded on a phone');
      await filters.locator('summary').click();
    }
    await fay.getByLabel('Minimum amount').fill('50');
    await fay.getByLabel('Maximum amount').fill('10');
    await fay.getByRole('button', { name: 'Apply filters' }).click();
    await fay.getByText('The maximum is below the minimum.').waitFor();
    await fay.waitForFunction(() => document.activeElement?.name === 'max_amount');
    // The same filters from an address typed by hand: the form stays, with the error.
    await visit(fay, '/#/history?min_amount=50&max_amount=10', 'History');
    await fay.getByRole('alert').filter({ hasText: 'One of the filters is not valid' }).waitFor();
    assert.equal(await fay.getByLabel('Maximum amount').getAttribute('aria-invalid'), 'true');
    assert.equal(await fay.getByRole('heading', { name: 'This page could not load' }).count(), 0);
    await step(fay, 'filter error');
    // On a phone, the amount column is whole and dates take two short lines.
    const rows = fay.locator('tbody tr');
    await visit(fay, '/#/history', 'History');
    await rows.first().waitFor();
    assert.equal(await overflow(fay), 0);
    const clipped = await fay.evaluate(() => [...document.querySelectorAll('td.num')].some((td) => {
      const wrap = td.closest('.table-wrap').getBoundingClientRect();
      return td.getBoundingClientRect().right > wrap.right + 1;
    }));
    assert.equal(clipped, false, 'amounts are not clipped');
    const lines = await fay.evaluate(() => {
      const td = document.querySelector('tbody td');
      return Math.round(td.querySelector('time').getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight));
    });
    assert.ok(lines <= 2, `a date takes ${lines} lines`);
    await step(fay, 'history fits');
  }, () => fay);
}

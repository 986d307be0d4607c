// The admin's screens, at desktop width and on a 375 px phone: they land
// on their overview with the reviews waiting, search users by name, read
// the audit log newest first with names instead of ids, and every Review
// button is on screen.

import assert from 'node:assert/strict';
import { ADMIN_EMAIL, ADMIN_PASSWORD, PHONE, expectText, overflow, person, scenario, step } from './harness.js';
import { api, opened, registered } from './people.js';

const SIZES = [['desktop', { width: 1280, height: 860 }], ['phone', PHONE]];

for (const [size, viewport] of SIZES) {
  let admin;

  scenario(`${size}: an admin lands on the overview, searches users and reads the audit newest first with names`, async () => {
    const hal = await person(`hal-${size}`);
    await registered(hal, `Hal Hopper${size}`, `hal-${size}`);
    const account = await opened(hal);
    await api(hal, 'PATCH', '/api/me', { date_of_birth: '1970-01-01', address: '9 Nine Road' });
    await api(hal, 'POST', '/api/me/kyc');

    admin = await person(`admin-${size}`, viewport);
    await admin.goto('/#/login');
    await admin.getByLabel('Email').fill(ADMIN_EMAIL);
    await admin.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();
    const waiting = admin.getByRole('table', { name: 'Users waiting for KYC review' });
    const review = waiting.getByRole('button', { name: new RegExp(`^Review hal-${size}`) });
    await review.waitFor();
    // The button is inside the viewport's width, not cut off.
    const box = await review.boundingBox();
    assert.ok(box && box.x + box.width <= viewport.width, `Review button at ${box?.x}+${box?.width}`);
    assert.equal(await overflow(admin), 0);
    await step(admin, 'overview');

    // Freeze Hal's account from the review, so the audit's newest record is about it.
    await review.click();
    await admin.getByRole('button', { name: /^Freeze/ }).click();
    await admin.locator(`tr[data-account-number="${account.number}"] .badge`, { hasText: 'Frozen' }).waitFor();

    const search = admin.getByRole('search', { name: 'Search users' });
    await search.getByLabel('Name or email').fill(`hopper${size}`);
    await search.getByRole('button', { name: 'Search' }).click();
    const found = admin.getByRole('table', { name: `Users matching hopper${size}` });
    await expectText(found.locator('tbody tr strong'), `Hal Hopper${size}`);
    await step(admin, 'search');

    const audit = admin.getByRole('table', { name: 'Audit records' });
    await admin.getByRole('button', { name: 'Verify the hash chain' }).click();
    await admin.getByText(/^Chain intact/).waitFor();
    const newest = audit.locator('tbody tr').first();
    await expectText(newest.locator('code'), 'account.freeze');
    const sequences = await audit.locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.sequence)));
    assert.ok(sequences.every((s, i) => i === 0 || s < sequences[i - 1]), 'newest first');
    const text = await newest.textContent();
    assert.match(text, /Administrator <admin-e2e@example\.com>/);
    assert.match(text, new RegExp(`Checking ${account.number.slice(0, 4)} `));
    assert.doesNotMatch(text, /user:[0-9a-f-]{36}|account:[0-9a-f-]{36}/, 'names, not ids');
    await step(admin, 'audit');
  }, () => admin);
}

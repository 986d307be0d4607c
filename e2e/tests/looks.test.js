// How the dashboard looks, at desktop width and on a 375 px phone: the
// open-account form waits behind a button, cards are of equal height with
// controls of one height, screens load behind skeletons, dark mode
// follows the system; and a service started in development mode (KYC
// approved at once, no admin) says so in its log and on every page.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PHONE, expectText, overflow, person, scenario, step } from './harness.js';
import { api, deposited, opened, registered, visit } from './people.js';

const SIZES = [['desktop', { width: 1280, height: 860 }], ['phone', PHONE]];
const DEV_URL = process.env.LEDGER_E2E_DEV_URL;
const DEV_LOG = process.env.LEDGER_E2E_DEV_SERVER_LOG;

for (const [size, viewport] of SIZES) {
  let ivy;

  scenario(`${size}: the open-account form waits behind a button; cards are even, controls one height`, async () => {
    ivy = await person(`ivy-${size}`, viewport);
    await registered(ivy, 'Ivy Irwin', `ivy-${size}`);
    await visit(ivy, '/#/accounts', /^Hello/);
    // No account yet: the form is open, focused on its first field.
    const form = ivy.getByRole('form', { name: 'Open an account' });
    await form.waitFor();
    await form.getByLabel('Name (optional)').fill('A rather long account name for the card');
    await form.getByRole('button', { name: 'Open account' }).click();
    await form.getByText(/^Opened /).waitFor();
    const second = await opened(ivy, 'EUR');
    await deposited(ivy, second, '5.00');
    await ivy.reload();
    await visit(ivy, '/#/accounts', /^Hello/);
    assert.equal(await form.isVisible(), false, 'the form is behind the button once there are accounts');
    const toggle = ivy.getByRole('button', { name: 'Open an account' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    await form.waitFor();
    await ivy.waitForFunction(() => document.activeElement?.name === 'kind');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'hidden' });
    const heights = await ivy.locator('#account-cards .card').evaluateAll((cards) => cards.map((c) => Math.round(c.getBoundingClientRect().height)));
    if (size === 'desktop') assert.equal(new Set(heights).size, 1, `card heights ${heights}`);
    await visit(ivy, '/#/pay/transfer', 'Move money');
    const controls = await ivy.locator('#main form').first().evaluate((f) => [...f.querySelectorAll('input:not([type=radio]), select, button')]
      .filter((el) => el.offsetParent).map((el) => Math.round(el.getBoundingClientRect().height)));
    assert.equal(new Set(controls).size, 1, `control heights ${controls}`);
    assert.equal(await overflow(ivy), 0);
    await step(ivy, 'transfer form');
  }, () => ivy);

  scenario(`${size}: a slow screen shows a skeleton, then its content`, async () => {
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    await visit(ivy, '/#/security', 'Security');
    await ivy.route('**/api/accounts', async (route) => { await held; await route.continue(); }, { times: 1 });
    await ivy.goto('/#/accounts');
    await ivy.locator('#main .card.skeleton').first().waitFor();
    assert.equal(await ivy.locator('#main').getAttribute('aria-busy'), 'true');
    await step(ivy, 'skeleton');
    release();
    await ivy.locator('#main h1').filter({ hasText: /^Hello/ }).waitFor();
    assert.equal(await ivy.locator('#main').getAttribute('aria-busy'), null);
  }, () => ivy);

  scenario(`${size}: dark mode follows the system`, async () => {
    const dark = await person(`ivy-dark-${size}`, { ...viewport, colorScheme: 'dark' });
    await registered(dark, 'Ivy Irwin', `ivy-dark-${size}`);
    await opened(dark);
    await visit(dark, '/#/accounts', /^Hello/);
    const background = await dark.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const ink = await dark.evaluate(() => getComputedStyle(document.querySelector('.card')).color);
    const lightness = (rgb) => rgb.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0) / 3;
    assert.ok(lightness(background) < 60, `background ${background}`);
    assert.ok(lightness(ink) > 180, `text ${ink}`);
    await step(dark, 'dark accounts');
    await visit(dark, '/#/pay/deposit', 'Move money');
    await step(dark, 'dark form');
    await dark.close();
  }, () => ivy);
}

scenario('development mode: KYC is approved at once, the log says how to make an admin, every page warns', async () => {
  assert.ok(DEV_URL && DEV_LOG, 'LEDGER_E2E_DEV_URL and LEDGER_E2E_DEV_SERVER_LOG are set by .ci/e2e.sh');
  const log = readFileSync(DEV_LOG, 'utf8');
  assert.match(log, /DEVELOPMENT MODE: --dev-auto-approve-kyc/);
  assert.match(log, /no admin exists yet.*ledger-http admin create --email/);
  for (const [size, viewport] of SIZES) {
    const page = await person(`dev-${size}`, { ...viewport, baseURL: DEV_URL });
    await page.goto('/#/login');
    const banner = page.locator('#dev-banner');
    await banner.waitFor();
    assert.match(await banner.textContent(), /approved automatically/);
    await registered(page, 'Jo Jones', `jo-${size}`);
    await api(page, 'PATCH', '/api/me', { date_of_birth: '1980-01-01', address: '1 Dev Lane' });
    // Signed in behind the page's back: load it again.
    await page.reload();
    await page.locator('#main h1').filter({ hasText: /^Hello/ }).waitFor();
    await visit(page, '/#/profile', 'Profile');
    await page.locator('#dev-banner').waitFor();
    await page.getByText('Development mode: your submission will be approved at once.').waitFor();
    await page.getByRole('button', { name: 'Submit for verification' }).click();
    await expectText(page.locator('#kyc .badge'), 'Verified');
    await step(page, 'dev mode');
    if (size === 'phone') devPage = page;
  }
}, () => devPage);
let devPage;

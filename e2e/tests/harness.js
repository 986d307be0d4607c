// The e2e harness: one headless Chromium, a browser context per person,
// a screenshot per step (`step`), at the end of every test and of every
// page when a test fails, and a watch that fails the test on any script
// error, console error, CSP violation or response with a 5xx status.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

/** The service under test (printed by the binary as `listening on URL`). */
export const BASE_URL = required('LEDGER_E2E_URL');
export const ADMIN_EMAIL = required('LEDGER_E2E_ADMIN_EMAIL');
export const ADMIN_PASSWORD = required('LEDGER_E2E_ADMIN_PASSWORD');
/** The server's log, where the development notifier writes reset tokens. */
export const SERVER_LOG = process.env.LEDGER_E2E_SERVER_LOG ?? '';
const SCREENSHOTS = process.env.LEDGER_E2E_SCREENSHOTS ?? join(process.cwd(), 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** How long one expectation may wait for the page, in milliseconds. */
export const WAIT_MS = 15_000;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (see .ci/e2e.sh)`);
  return value;
}

let browser;
const pages = [];
let shot = 0;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
});

/**
 * A new person: a fresh browser context (own cookies) with one page.
 * `problems` collects uncaught script errors, console errors and CSP reports.
 */
export async function person(label, { width = 1280, height = 860, colorScheme = 'light', baseURL = BASE_URL } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, baseURL, locale: 'en-US', timezoneId: 'UTC', colorScheme });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    // Failed requests log an error too (a refused form, the event stream of
    // a revoked session); those are expected in failure-path tests.
    const expected = /Failed to load resource|EventSource's response has a MIME type/.test(message.text());
    if (message.type() === 'error' && !expected) page.problems.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 500) page.problems.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
  });
  page.label = label;
  pages.push(page);
  return page;
}

/** The phone width every narrow-screen test uses. */
export const PHONE = { width: 375, height: 812 };

let stepShot = 0;

/** Screenshots `page` as one step of the running test (`name` in the file name). */
export async function step(page, name) {
  stepShot += 1;
  const file = `${String(shot).padStart(2, '0')}-${String(stepShot).padStart(3, '0')}-${slug(page.label)}-${slug(name)}.png`;
  await page.screenshot({ path: join(SCREENSHOTS, file), fullPage: true });
}

/** How far the page is wider than its viewport (0 when it fits). */
export function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

/**
 * A test that screenshots `page()` (the page the test is about) when it
 * ends, and every open page when it fails.
 */
export function scenario(name, body, page) {
  test(name, async () => {
    shot += 1;
    const prefix = String(shot).padStart(2, '0');
    try {
      await body();
    } catch (error) {
      for (const p of pages.filter((x) => !x.isClosed())) {
        await p.screenshot({ path: join(SCREENSHOTS, `${prefix}-FAILED-${slug(name)}-${p.label}.png`), fullPage: true }).catch(() => {});
      }
      throw error;
    }
    const subject = page();
    await subject.screenshot({ path: join(SCREENSHOTS, `${prefix}-${slug(name)}.png`), fullPage: true });
    for (const p of pages) {
      if (p.problems.length) throw new Error(`${p.label}: browser errors: ${p.problems.join(' | ')}`);
    }
  });
}

/** Waits until the locator's text, normalised, equals `expected`. */
export async function expectText(locator, expected, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last = '';
  while (Date.now() < deadline) {
    last = ((await locator.first().textContent({ timeout }).catch(() => '')) ?? '').replace(/\s+/g, ' ').trim();
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`expected text ${JSON.stringify(expected)}, still ${JSON.stringify(last)} after ${timeout} ms`);
}

/** Waits until `count()` of the locator is `expected`. */
export async function expectCount(locator, expected, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last = -1;
  while (Date.now() < deadline) {
    last = await locator.count();
    if (last === expected) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`expected ${expected} elements, found ${last} after ${timeout} ms`);
}

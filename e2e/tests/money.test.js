// Money formatting and amount checks of the dashboard, in node (no
// browser): exact for amounts no float could hold, locale-aware, and the
// convenience checks match the server's grammar for the common mistakes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAmount, formatMoney, minorUnits, sumAmounts } from '../../ledger-http/dashboard/js/money.js';

test('formats decimal strings exactly, beyond what a float can hold', () => {
  assert.equal(formatMoney('1234567890123456789.05', 'USD', 'en-US'), '$1,234,567,890,123,456,789.05');
  assert.equal(formatMoney('0.10', 'USD', 'en-US'), '$0.10');
  assert.equal(formatMoney('12.5', 'USD', 'en-US'), '$12.50');
});

test('formats by the locale and the currency minor unit', () => {
  assert.equal(formatMoney('1234.50', 'EUR', 'de-DE'), '1.234,50\u00a0€');
  assert.equal(formatMoney('1234.50', 'GBP', 'en-GB'), '£1,234.50');
  assert.equal(formatMoney('1500', 'JPY', 'en-US'), '¥1,500');
  assert.equal(minorUnits('USD'), 2);
  assert.equal(minorUnits('JPY'), 0);
});

test('keeps the sign of negative amounts, below one included', () => {
  assert.equal(formatMoney('-0.50', 'USD', 'en-US'), '-$0.50');
  assert.equal(formatMoney('-1234.00', 'USD', 'en-US'), '-$1,234.00');
});

test('shows what is not an amount as it came rather than guessing', () => {
  assert.equal(formatMoney('abc', 'USD', 'en-US'), 'abc USD');
});

test('sums decimal strings exactly', () => {
  assert.equal(sumAmounts(['0.10', '0.20']), '0.30');
  assert.equal(sumAmounts(['-1.005', '1']), '-0.005');
  assert.equal(sumAmounts(['9007199254740993.01', '0.01']), '9007199254740993.02');
  assert.equal(sumAmounts([]), '0');
});

test('amount checks refuse empty, zero, signs, exponents and extra decimals', () => {
  assert.equal(checkAmount('12.50', 'USD'), null);
  assert.equal(checkAmount('7', 'USD'), null);
  assert.match(checkAmount('', 'USD'), /Enter an amount/);
  assert.match(checkAmount('0.00', 'USD'), /more than zero/);
  assert.match(checkAmount('-5', 'USD'), /without signs/);
  assert.match(checkAmount('1e3', 'USD'), /without signs/);
  assert.match(checkAmount('1,000', 'USD'), /separators/);
  assert.match(checkAmount('1.234', 'USD'), /at most 2 decimal places/);
  assert.match(checkAmount('1.5', 'JPY'), /whole number/);
});

// Money formatting and amount checks of the dashboard, in node (no
// browser): exact for amounts no float could hold, locale-aware, and the
// convenience checks match the server's grammar for the common mistakes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkAmount, compareAmounts, formatMoney, fromUnits, minorUnits, negate, plainAmount, scaleOf, sumAmounts, toUnits,
} from '../../ledger-http/dashboard/js/money.js';

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

test('converts decimal strings to and from BigInt units exactly', () => {
  assert.equal(scaleOf(['1', '12.5', '-0.125']), 3);
  assert.equal(toUnits('12.5', 2), 1250n);
  assert.equal(toUnits('-0.05', 2), -5n);
  assert.equal(toUnits('9007199254740993.01', 2), 900719925474099301n);
  assert.throws(() => toUnits('1.234', 2), RangeError);
  assert.throws(() => toUnits('1e3', 2), RangeError);
  assert.equal(fromUnits(1250n, 2), '12.50');
  assert.equal(fromUnits(-5n, 2), '-0.05');
  assert.equal(fromUnits(7n, 0), '7');
});

test('compares, negates and writes amounts as the API does', () => {
  assert.equal(compareAmounts('100', '99.99'), 1);
  assert.equal(compareAmounts('0.10', '0.1'), 0);
  assert.equal(compareAmounts('-9007199254740993.01', '-9007199254740993.00'), -1);
  assert.equal(negate('12.50'), '-12.50');
  assert.equal(negate('-12.50'), '12.50');
  assert.equal(negate('0.00'), '0.00');
  assert.equal(plainAmount('30', 'USD'), '30.00');
  assert.equal(plainAmount('030.5', 'USD'), '30.50');
  assert.equal(plainAmount('1500', 'JPY'), '1500');
  assert.equal(plainAmount('0.125', 'USD'), '0.125');
});

// The balance chart's scales, in node (no browser): value ticks are round,
// span the amounts and zero, and are computed exactly on decimal strings,
// beyond what a float can hold; time ticks stay within the period.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeTicks, valueTicks } from '../../ledger-http/dashboard/js/chart.js';

test('value ticks are round amounts spanning the balances and zero', () => {
  assert.deepEqual(valueTicks(['0.00', '100.00', '121.25']), ['0.00', '50.00', '100.00', '150.00']);
  assert.deepEqual(valueTicks(['-20.00', '35.50']), ['-20.00', '0.00', '20.00', '40.00']);
  assert.deepEqual(valueTicks(['0.00']), ['0.00', '0.50', '1.00']);
  assert.deepEqual(valueTicks(['1500'], 3), ['0', '500', '1000', '1500']);
});

test('value ticks are exact for amounts no float could hold', () => {
  const ticks = valueTicks(['9007199254740993.01', '0.00']);
  assert.equal(ticks[0], '0.00');
  assert.equal(ticks.at(-1), '10000000000000000.00');
  for (const tick of ticks) assert.match(tick, /^\d+\.00$/);
});

test('time ticks fall within the period, at most about as many as asked', () => {
  const end = Date.UTC(2026, 11, 3, 13, 0);
  for (const [days, max] of [[7, 6], [30, 6], [400, 5], [0.02, 4], [0.9, 6]]) {
    const start = end - days * 86_400_000;
    const { ticks, label } = timeTicks(start, end, max);
    assert.ok(ticks.length >= 1 && ticks.length <= max + 1, `${days} days: ${ticks.length} ticks`);
    for (const t of ticks) assert.ok(t >= start && t <= end);
    assert.equal(new Set(ticks.map(label)).size, ticks.length, `${days} days: distinct labels`);
  }
});

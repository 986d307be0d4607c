// Every problem code the service can answer has words a customer
// understands in the dashboard (problems.js), in node: the codes are read
// from the Rust sources (ledger-core's LedgerError::code, ledger-http's
// own problems), so a new code without words fails here.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { knows, nextStep, problemText } from '../../ledger-http/dashboard/js/problems.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function rustFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return rustFiles(path);
    return e.name.endsWith('.rs') ? [path] : [];
  });
}

/** Codes customers can meet: the core's, and ledger-http's `ApiError::...("code", ...)` calls. */
function codes() {
  const core = readFileSync(join(ROOT, 'ledger-core/src/error/code.rs'), 'utf8');
  const found = new Set([...core.matchAll(/=> "([a-z_]+)",/g)].map((m) => m[1]));
  for (const file of rustFiles(join(ROOT, 'ledger-http/src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/ApiError::(?:new\([^,]+,|bad_request\(|unprocessable\(|forbidden\(|not_found\(|too_many_requests\()\s*"([a-z_]+)"/g)) found.add(m[1]);
  }
  return found;
}

// Operator-only and webhook codes never reach the dashboard's customers.
const NOT_FOR_CUSTOMERS = new Set([
  'invalid_sink_name', 'invalid_account_code', 'invalid_metadata', 'invalid_floor', 'invalid_entry', 'invalid_normal_balance',
  'account_code_not_found', 'account_code_taken', 'invalid_overdraft_limit', 'batch_empty', 'batch_too_large', 'batch_too_many_postings',
  'batch_command_failed', 'audit_chain_broken', 'password_hashing', 'account_number_taken', 'storage_error',
  'invalid_idempotency_key', 'signature_expired', 'signature_invalid', 'signature_missing', 'unsupported_event_type',
  'webhook_disabled', 'unknown_account', 'route_not_found', 'method_not_allowed', 'unsupported_media_type',
  'payload_too_large', 'malformed_json', 'invalid_body', 'unreadable_body', 'invalid_format', 'internal_error', 'asset_not_found',
]);

test('every code a customer can meet has words', () => {
  const all = codes();
  assert.ok(all.size > 60, `found ${all.size} codes`);
  const missing = [...all].filter((code) => !NOT_FOR_CUSTOMERS.has(code) && !knows(code));
  assert.deepEqual(missing, []);
});

test('unknown codes fall back on the status, never on the server text', () => {
  const text = problemText({ code: 'something_new', status: 409, detail: 'internal words' });
  assert.doesNotMatch(text, /internal words/);
  assert.match(problemText({ code: 'x', status: 503, detail: 'db down at 10.0.0.1' }), /on our side/);
});

test('refusals with a way forward link to it', () => {
  assert.deepEqual(nextStep({ code: 'kyc_required' }), ['Verify your identity on your profile', '#/profile']);
  assert.equal(nextStep({ code: 'insufficient_funds' }), null);
});

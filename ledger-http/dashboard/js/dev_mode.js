// Development modes the service runs in, shown to everyone as a banner
// (`GET /api/config`): with KYC approved automatically, identities go
// unchecked, which must never pass unnoticed.

import * as api from './api.js';

let config = { dev_auto_approve_kyc: false };

/** Reads the service's settings and shows the banner if a development mode is on. */
export async function start() {
  try {
    config = await api.get('/api/config');
  } catch {
    return;
  }
  document.getElementById('dev-banner').hidden = !config.dev_auto_approve_kyc;
}

/** Whether KYC submissions are approved at once (development mode). */
export function autoApprovesKyc() {
  return config.dev_auto_approve_kyc;
}

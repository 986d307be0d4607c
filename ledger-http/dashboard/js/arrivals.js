// "You received $42.50 from Alice N.": a toast when money from someone
// else arrives in one of the reader's accounts, from the live stream.

import * as api from './api.js';
import * as live from './live.js';
import { formatMoney } from './money.js';
import { link } from './router.js';
import { toast } from './toast.js';

let stop = null;

/** Starts watching (once signed in). */
export function start() {
  stop?.();
  stop = live.on('transaction', async (t) => {
    if (t.status !== 'posted' || !t.to_account_id || t.kind === 'reversal') return;
    try {
      const { items } = await api.get('/api/accounts');
      const mine = new Set(items.map((a) => a.id));
      // Only money from someone else: not deposits, not one's own transfers.
      if (!mine.has(t.to_account_id) || !t.from_account_id || mine.has(t.from_account_id)) return;
      const full = await api.get(`/api/transactions/${encodeURIComponent(t.id)}`);
      const from = full.names?.[t.from_account_id] ?? 'another customer';
      const money = formatMoney(full.captured_amount ?? full.amount, full.currency);
      // "Alice N." already ends its sentence.
      toast(`You received ${money} from ${from}${from.endsWith('.') ? '' : '.'}`, link('history', [t.id]));
    } catch {
      // A toast is a courtesy: the balances update anyway.
    }
  });
}

/** Stops watching (sign-out). */
export function end() {
  stop?.();
  stop = null;
}

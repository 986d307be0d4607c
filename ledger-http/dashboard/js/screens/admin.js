// Admin: the overview admins land on: who waits for KYC review (approve,
// or reject with a reason), a user search, each user's accounts with
// freeze and unfreeze (and a link to each account's page), and the audit
// log newest first, naming the people and accounts, with the hash-chain
// check. The server refuses all of it to customers.

import * as api from '../api.js';
import { accountLabel } from '../account.js';
import { badge, dateTime, groupedNumber, h, pageHead, replace } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import { formatMoney } from '../money.js';
import { link } from '../router.js';
import { problemText } from '../problems.js';
import { announce } from '../status.js';

const USERS_PAGE_SIZE = 50;
const AUDIT_PAGE_SIZE = 25;

function kycForm(user, onDone) {
  const form = h('form', { 'aria-label': `KYC review of ${user.email}` },
    field('Reason (required to reject; shown to the customer)', h('textarea', { name: 'reason', maxlength: 500 })),
    h('div', { class: 'form-actions' },
      h('button', { class: 'button', type: 'submit', name: 'decision', value: 'verified', text: 'Approve' }),
      h('button', { class: 'button ghost danger', type: 'submit', name: 'decision', value: 'rejected', text: 'Reject' })));
  let decision = 'verified';
  form.addEventListener('click', (event) => {
    if (event.target.name === 'decision') decision = event.target.value;
  });
  handleSubmit(form, {
    validate: (data) => ({
      reason: decision === 'rejected' && !data.get('reason').trim() ? 'Give the customer a reason for the rejection.' : null,
    }),
    submit: async (data) => {
      const body = { decision };
      if (decision === 'rejected') body.reason = data.get('reason').trim();
      const updated = await api.post(`/api/admin/users/${user.id}/kyc`, body);
      announce(`${updated.email}: KYC ${updated.kyc_status}.`);
      await onDone(updated);
    },
    fieldOf: (error) => (error.code === 'invalid_kyc_reason' ? 'reason' : undefined),
  });
  return form;
}

function accountsTable(user, accounts, reload) {
  if (!accounts.length) return h('p', { class: 'empty', text: 'No accounts.' });
  const action = (account, verb) => h('button', {
    class: `button small ${verb === 'freeze' ? 'ghost danger' : ''}`, type: 'button',
    text: verb === 'freeze' ? 'Freeze' : 'Unfreeze', 'aria-label': `${verb === 'freeze' ? 'Freeze' : 'Unfreeze'} ${accountLabel(account)}`,
    onclick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        const updated = await api.post(`/api/accounts/${account.id}/${verb}`);
        announce(`${accountLabel(updated)} is ${updated.status}.`);
      } catch (error) {
        announce(problemText(error));
      }
      await reload();
    },
  });
  return h('div', { class: 'table-wrap' }, h('table', { 'aria-label': `Accounts of ${user.email}` },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Account' }), h('th', { scope: 'col', text: 'Status' }),
      h('th', { scope: 'col', class: 'num', text: 'Available' }), h('th', { scope: 'col', text: '' }))),
    h('tbody', {}, accounts.map((a) => h('tr', { dataset: { accountNumber: a.number } },
      h('td', {}, h('a', { href: link('accounts', [a.id]), text: accountLabel(a) }), h('div', { class: 'card-sub mono', text: groupedNumber(a.number) })),
      h('td', {}, badge(a.status)),
      h('td', { class: 'num', text: formatMoney(a.balance.available, a.currency) }),
      h('td', {}, a.status === 'active' ? action(a, 'freeze') : a.status === 'frozen' ? action(a, 'unfreeze') : null))))));
}

async function userDetail(user, slot, reloadUsers) {
  const accountsSlot = h('div');
  const loadAccounts = async () => {
    const { items } = await api.get(`/api/admin/users/${user.id}/accounts`);
    replace(accountsSlot, accountsTable(user, items, loadAccounts));
  };
  await loadAccounts();
  replace(slot, h('div', { class: 'panel user-detail', 'aria-label': `Review ${user.email}` },
    h('h3', { text: `${user.full_name} · ${user.email}` }),
    h('p', {}, 'KYC: ', badge(user.kyc_status), user.kyc_reason ? ` — ${user.kyc_reason}` : '',
      user.phone ? ` · ${user.phone}` : '', user.date_of_birth ? ` · born ${user.date_of_birth}` : ''),
    user.address ? h('p', { class: 'card-sub', text: user.address }) : null,
    user.kyc_status === 'pending' ? kycForm(user, async (updated) => {
      await userDetail(updated, slot, reloadUsers);
      slot.dispatchEvent(new CustomEvent('decided'));
    }) : null,
    h('h3', { text: 'Accounts' }), accountsSlot));
}

function usersTable(users, detail, reload, label) {
  const rows = users.map((u) => h('tr', { dataset: { userEmail: u.email } },
    h('td', { class: 'who-cell' }, h('strong', { text: u.full_name }), h('div', { class: 'card-sub', text: u.email })),
    h('td', { class: 'hide-narrow' }, badge(u.role)),
    h('td', {}, badge(u.kyc_status)),
    h('td', { class: 'hide-narrow', text: dateTime(u.created_at) }),
    h('td', { class: 'actions-cell' }, h('button', {
      class: 'button small ghost', type: 'button', text: 'Review', 'aria-label': `Review ${u.email}`,
      onclick: async () => {
        detail.dataset.open = u.id;
        await userDetail(u, detail, reload);
        detail.querySelector('h3')?.setAttribute('tabindex', '-1');
        detail.querySelector('h3')?.focus();
      },
    }))));
  return h('div', { class: 'table-wrap' }, h('table', { 'aria-label': label },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'User' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Role' }),
      h('th', { scope: 'col', text: 'KYC' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Registered' }), h('th', { scope: 'col', text: '' }))),
    h('tbody', {}, rows)));
}

/** Users waiting for a KYC decision (from the first pages of users). */
function pendingPanel(detail) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'pending-h' });
  const load = async () => {
    const page = await api.get('/api/admin/users', { limit: 200 });
    const pending = page.items.filter((u) => u.kyc_status === 'pending');
    replace(section, h('h2', { id: 'pending-h' }, 'Waiting for KYC review ', h('span', { class: 'badge warn', text: String(pending.length) })),
      pending.length ? usersTable(pending, detail, load, 'Users waiting for KYC review')
        : h('p', { class: 'empty', text: 'Nobody is waiting for a review.' }));
  };
  return { section, load };
}

/** Search users by name or email; without a query, all users by registration. */
function usersPanel(detail) {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'users-h' });
  const results = h('div');
  const state = { q: '', after: '', trail: [] };
  const form = h('form', { role: 'search', 'aria-label': 'Search users', class: 'search' },
    field('Name or email', h('input', { name: 'q', type: 'search', autocomplete: 'off', placeholder: 'alice@example.com' })),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Search' })));
  const load = async () => {
    const page = await api.get('/api/admin/users', { q: state.q, after: state.after, limit: USERS_PAGE_SIZE });
    replace(results,
      page.items.length ? usersTable(page.items, detail, load, state.q ? `Users matching ${state.q}` : 'Users')
        : h('p', { class: 'empty', text: state.q ? `Nobody matches "${state.q}".` : 'No users.' }),
      h('div', { class: 'pager' },
        state.trail.length ? h('button', { class: 'button ghost small', type: 'button', text: '← Previous', onclick: () => { state.after = state.trail.pop(); load(); } }) : null,
        page.next_after ? h('button', { class: 'button ghost small', type: 'button', text: 'Next →', onclick: () => { state.trail.push(state.after); state.after = page.next_after; load(); } }) : null));
  };
  handleSubmit(form, {
    submit: async (data) => {
      state.q = String(data.get('q') ?? '').trim();
      state.after = '';
      state.trail = [];
      await load();
    },
  });
  replace(section, h('h2', { id: 'users-h', text: 'Users' }), form, results);
  return { section, load };
}

/** "Alice Archer <alice@…>" for `user:<id>`, as the page's `names` say; else the raw name. */
function named(raw, names) {
  const name = names?.[raw];
  if (name) return h('span', { title: raw, text: name });
  if (raw === 'system') return h('span', { text: 'The system' });
  return h('span', { class: 'mono', text: raw });
}

function auditPanel() {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'audit-h' });
  // Newest first: `before` is the cursor (0: the newest page).
  const state = { before: 0, trail: [] };
  const verify = h('form', { 'aria-label': 'Verify the audit chain' },
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Verify the hash chain' })));
  handleSubmit(verify, {
    submit: async () => {
      const result = await api.get('/api/admin/audit/verify');
      if (result.valid) {
        formMessage(verify, 'ok', `Chain intact: ${result.sequence} records verified. Head hash ${result.hash.slice(0, 16)}…`);
        state.before = 0;
        state.trail = [];
        await load();
      } else {
        formMessage(verify, 'error', `Chain broken: ${result.error}`);
      }
    },
  });
  const load = async () => {
    const page = await api.get('/api/audit', { before: state.before, limit: AUDIT_PAGE_SIZE });
    replace(section, h('h2', { id: 'audit-h', text: 'Audit log' }),
      h('p', { class: 'card-sub', text: 'Newest first. Append-only and hash-chained: each record carries the hash of the one before it.' }),
      verify,
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Audit records' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num hide-narrow', text: '#' }), h('th', { scope: 'col', text: 'When' }),
          h('th', { scope: 'col', text: 'Action' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Actor' }),
          h('th', { scope: 'col', class: 'hide-narrow', text: 'Target' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Outcome' }))),
        h('tbody', {}, page.items.map((r) => h('tr', { dataset: { sequence: r.sequence } },
          h('td', { class: 'num hide-narrow', text: String(r.sequence) }),
          h('td', { class: 'when-cell', text: dateTime(r.at) }),
          h('td', { class: 'what' }, h('code', { text: r.action }), r.code ? h('div', { class: 'card-sub', text: r.code }) : null,
            r.outcome !== 'accepted' ? h('div', { class: 'show-narrow' }, badge(r.outcome)) : null,
            h('div', { class: 'card-sub show-narrow' }, named(r.actor, page.names), ' → ', named(r.target, page.names))),
          h('td', { class: 'hide-narrow actor' }, named(r.actor, page.names)),
          h('td', { class: 'hide-narrow target' }, named(r.target, page.names)),
          h('td', { class: 'hide-narrow' }, badge(r.outcome))))))),
      h('div', { class: 'pager' },
        state.trail.length ? h('button', { class: 'button ghost small', type: 'button', text: '← Newer', onclick: () => { state.before = state.trail.pop(); load(); } }) : null,
        page.next_before ? h('button', { class: 'button ghost small', type: 'button', text: 'Older →', onclick: () => { state.trail.push(state.before); state.before = page.next_before; load(); } }) : null));
  };
  return { section, load };
}

/** Renders the admin's overview: reviews waiting, user search, the audit log. */
export async function render(main) {
  const detail = h('div', { class: 'user-detail-slot' });
  const pending = pendingPanel(detail);
  const users = usersPanel(detail);
  const audit = auditPanel();
  await Promise.all([pending.load(), users.load(), audit.load()]);
  detail.addEventListener('decided', () => { Promise.all([pending.load(), users.load(), audit.load()]).catch(() => {}); });
  replace(main, pageHead('Administration', 'KYC reviews, users and their accounts, and the audit trail.'),
    pending.section, detail, users.section, audit.section);
}

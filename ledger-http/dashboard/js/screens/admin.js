// Admin: users with KYC review (approve, or reject with a reason), each
// user's accounts with freeze and unfreeze (and a link to each account's
// page), and the audit log with the hash-chain check. The server refuses
// all of it to customers.

import * as api from '../api.js';
import { accountLabel } from '../account.js';
import { badge, dateTime, groupedNumber, h, pageHead, replace } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import { formatMoney } from '../money.js';
import { link } from '../router.js';
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
        announce(error.detail);
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
    user.kyc_status === 'pending' ? kycForm(user, reloadUsers) : null,
    h('h3', { text: 'Accounts' }), accountsSlot));
}

function usersPanel() {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'users-h' });
  const detail = h('div');
  const state = { after: '', trail: [], pendingOnly: false, open: null };
  const load = async () => {
    const page = await api.get('/api/admin/users', { after: state.after, limit: USERS_PAGE_SIZE });
    const users = state.pendingOnly ? page.items.filter((u) => u.kyc_status === 'pending') : page.items;
    const toggle = h('label', { class: 'choice' },
      h('input', { type: 'checkbox', name: 'pending_only', checked: state.pendingOnly, onchange: (e) => { state.pendingOnly = e.target.checked; load(); } }),
      'Only users waiting for KYC review');
    const rows = users.map((u) => h('tr', { dataset: { userEmail: u.email } },
      h('td', {}, h('strong', { text: u.full_name }), h('div', { class: 'card-sub', text: u.email })),
      h('td', { class: 'hide-narrow' }, badge(u.role)),
      h('td', {}, badge(u.kyc_status)),
      h('td', { class: 'hide-narrow', text: dateTime(u.created_at) }),
      h('td', {}, h('button', {
        class: 'button small ghost', type: 'button', text: 'Review', 'aria-label': `Review ${u.email}`,
        onclick: async () => {
          state.open = u.id;
          await userDetail(u, detail, async () => { await load(); });
          detail.querySelector('h3')?.setAttribute('tabindex', '-1');
          detail.querySelector('h3')?.focus();
        },
      }))));
    replace(section, h('h2', { id: 'users-h', text: 'Users' }), toggle,
      users.length ? h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Users' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'User' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Role' }),
          h('th', { scope: 'col', text: 'KYC' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Registered' }), h('th', { scope: 'col', text: '' }))),
        h('tbody', {}, rows))) : h('p', { class: 'empty', text: 'No users on this page.' }),
      h('div', { class: 'pager' },
        state.trail.length ? h('button', { class: 'button ghost small', type: 'button', text: '← Previous', onclick: () => { state.after = state.trail.pop(); load(); } }) : null,
        page.next_after ? h('button', { class: 'button ghost small', type: 'button', text: 'Next →', onclick: () => { state.trail.push(state.after); state.after = page.next_after; load(); } }) : null),
      detail);
    // Keep an open review in sync after a decision.
    const open = page.items.find((u) => u.id === state.open);
    if (open) await userDetail(open, detail, async () => { await load(); });
  };
  return { section, load };
}

function auditPanel() {
  const section = h('section', { class: 'panel', 'aria-labelledby': 'audit-h' });
  const state = { after: 0, trail: [] };
  const verify = h('form', { 'aria-label': 'Verify the audit chain' },
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Verify the hash chain' })));
  handleSubmit(verify, {
    submit: async () => {
      const result = await api.get('/api/admin/audit/verify');
      if (result.valid) {
        formMessage(verify, 'ok', `Chain intact: ${result.sequence} records verified. Head hash ${result.hash.slice(0, 16)}…`);
        // Show the newest records, up to the verified head.
        const latest = Math.max(0, result.sequence - AUDIT_PAGE_SIZE);
        state.trail = latest > 0 ? [0] : [];
        state.after = latest;
        await load();
      } else {
        formMessage(verify, 'error', `Chain broken: ${result.error}`);
      }
    },
  });
  const load = async () => {
    const page = await api.get('/api/audit', { after: state.after, limit: AUDIT_PAGE_SIZE });
    replace(section, h('h2', { id: 'audit-h', text: 'Audit log' }),
      h('p', { class: 'card-sub', text: 'Append-only and hash-chained: each record carries the hash of the one before it.' }),
      verify,
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Audit records' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num', text: '#' }), h('th', { scope: 'col', text: 'When' }),
          h('th', { scope: 'col', text: 'Action' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Actor' }),
          h('th', { scope: 'col', class: 'hide-narrow', text: 'Target' }), h('th', { scope: 'col', text: 'Outcome' }))),
        h('tbody', {}, page.items.map((r) => h('tr', {},
          h('td', { class: 'num', text: String(r.sequence) }),
          h('td', { text: dateTime(r.at) }),
          h('td', {}, h('code', { text: r.action }), r.reason ? h('div', { class: 'card-sub', text: r.reason }) : null),
          h('td', { class: 'hide-narrow mono', text: r.actor }),
          h('td', { class: 'hide-narrow mono', text: r.target }),
          h('td', {}, badge(r.outcome))))))),
      h('div', { class: 'pager' },
        state.trail.length ? h('button', { class: 'button ghost small', type: 'button', text: '← Earlier', onclick: () => { state.after = state.trail.pop(); load(); } }) : null,
        page.next_after ? h('button', { class: 'button ghost small', type: 'button', text: 'Later →', onclick: () => { state.trail.push(state.after); state.after = page.next_after; load(); } }) : null));
  };
  return { section, load };
}

/** Renders the users and audit panels. */
export async function render(main) {
  const users = usersPanel();
  const audit = auditPanel();
  await Promise.all([users.load(), audit.load()]);
  replace(main, pageHead('Administration', 'KYC reviews, account freezes and the audit trail.'), users.section, audit.section);
}

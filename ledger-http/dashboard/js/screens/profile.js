// Profile: edit one's details; KYC status and submission for review. The
// KYC panel says what is missing before a submission, and the page follows
// the user live (`profile` events: a decision arrives without a reload).

import * as api from '../api.js';
import { badge, h, pageHead, replace } from '../dom.js';
import { field, formMessage, handleSubmit, setFieldError } from '../forms.js';
import { autoApprovesKyc } from '../dev_mode.js';
import * as live from '../live.js';
import * as session from '../session.js';
import { announce } from '../status.js';

const FIELDS = ['full_name', 'phone', 'address', 'date_of_birth'];

const KYC_TEXT = {
  unverified: 'Verify your identity to withdraw, send transfers and place holds. Complete your details, then submit them for review.',
  pending: 'Your details are with our team for review. This page updates by itself when they decide.',
  verified: 'Your identity is verified. Every feature is open to you.',
  rejected: 'Your last submission was rejected. Correct your details and submit again.',
};

/** The details a reviewer needs that the profile lacks, as [field, words]. */
function missingForReview(user) {
  return [
    ['date_of_birth', 'your date of birth'],
    ['address', 'your address'],
  ].filter(([name]) => !String(user[name] ?? '').trim());
}

function profileForm(user, onSaved) {
  const form = h('form', { 'aria-label': 'Profile' },
    field('Full name', h('input', { name: 'full_name', autocomplete: 'name', required: true, value: user.full_name })),
    field('Email', h('input', { name: 'email', type: 'email', value: user.email, readonly: true }), { hint: 'Your sign-in email cannot be changed here.' }),
    h('div', { class: 'row' },
      field('Phone', h('input', { name: 'phone', type: 'tel', autocomplete: 'tel', value: user.phone ?? '', placeholder: '+14155550123' }), { hint: 'International format, starting with +.' }),
      field('Date of birth', h('input', { name: 'date_of_birth', type: 'date', autocomplete: 'bday', value: user.date_of_birth ?? '' }))),
    field('Address', h('textarea', { name: 'address', autocomplete: 'street-address', text: user.address ?? '' })),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Save changes' })));
  handleSubmit(form, {
    validate: (data) => ({
      full_name: data.get('full_name').trim() ? null : 'Enter your name.',
      phone: data.get('phone').trim() && !/^\+\d{6,15}$/.test(data.get('phone').trim()) ? 'Use the international format, e.g. +14155550123.' : null,
    }),
    submit: async (data) => {
      // Send only what changed; an emptied optional field is cleared (null).
      const patchBody = {};
      for (const name of FIELDS) {
        const value = String(data.get(name) ?? '').trim();
        const before = user[name] ?? '';
        if (value !== before) patchBody[name] = value === '' && name !== 'full_name' ? null : value;
      }
      if (!Object.keys(patchBody).length) {
        formMessage(form, 'ok', 'Nothing to save: no field changed.');
        return;
      }
      const updated = await api.patch('/api/me', patchBody);
      session.remember(updated);
      Object.assign(user, updated);
      formMessage(form, 'ok', 'Profile saved.');
      announce('Profile saved.');
      onSaved(updated);
    },
    fieldOf: () => undefined,
  });
  return form;
}

function kycPanel(user, onChange) {
  const canSubmit = user.kyc_status === 'unverified' || user.kyc_status === 'rejected';
  const missing = missingForReview(user);
  const button = h('button', { class: 'button', type: 'submit', text: 'Submit for verification', 'aria-describedby': missing.length ? 'kyc-missing' : null });
  const form = h('form', { 'aria-label': 'Identity verification' }, h('div', { class: 'form-actions' }, button));
  handleSubmit(form, {
    validate: () => {
      if (!missing.length) return {};
      // The fields to fill are in the profile form: mark them, and go to the first.
      const profile = document.querySelector('form[aria-label="Profile"]');
      for (const [name] of missing) if (profile) setFieldError(profile, name, 'Needed for identity review.');
      queueMicrotask(() => profile?.elements.namedItem(missing[0][0])?.focus());
      return { kyc: `Add ${missing.map(([, w]) => w).join(' and ')} to your details first.` };
    },
    submit: async () => {
      const updated = await api.post('/api/me/kyc');
      session.remember(updated);
      announce(updated.kyc_status === 'verified' ? 'Identity verified.' : 'Submitted for verification.');
      onChange(updated);
    },
  });
  const focusField = (name) => (event) => {
    event.preventDefault();
    document.querySelector(`[name="${name}"]`)?.focus();
  };
  return h('section', { class: 'panel', 'aria-labelledby': 'kyc-h', id: 'kyc' },
    h('h2', { id: 'kyc-h' }, 'Identity verification ', badge(user.kyc_status)),
    h('p', { text: KYC_TEXT[user.kyc_status] ?? '' }),
    user.kyc_status === 'rejected' && user.kyc_reason ? h('p', { class: 'form-error', text: `Reason: ${user.kyc_reason}` }) : null,
    canSubmit && missing.length ? h('div', { class: 'notice', id: 'kyc-missing' },
      h('p', { text: 'Before you submit, add what our team reviews:' }),
      h('ul', {}, missing.map(([name, words]) => h('li', {}, h('a', { href: '#kyc', text: words, onclick: focusField(name) }))))) : null,
    canSubmit && autoApprovesKyc() ? h('p', { class: 'card-sub dev-note', text: 'Development mode: your submission will be approved at once.' }) : null,
    canSubmit ? form : null);
}

/** Renders the profile and KYC panels; returns the cleanup (live subscription). */
export async function render(main) {
  const user = await api.get('/api/me');
  session.remember(user);
  let shown = user;
  const kycSlot = h('div');
  const drawKyc = (current) => {
    shown = current;
    replace(kycSlot, kycPanel(current, drawKyc));
  };
  replace(main,
    pageHead('Profile', `Customer since ${new Date(user.created_at).toLocaleDateString()}.`),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel', 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h', text: 'Your details' }),
        profileForm(user, (updated) => drawKyc(updated))),
      kycSlot));
  drawKyc(user);
  // A KYC decision (or a change made in another browser) arrives live; the
  // form being edited keeps what the customer typed.
  return live.on('profile', (updated) => {
    if (updated.kyc_status !== shown.kyc_status) announce(`Identity verification: ${updated.kyc_status}.`);
    drawKyc(updated);
  });
}

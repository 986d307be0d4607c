// Profile: edit one's details; KYC status and submission for review.

import * as api from '../api.js';
import { badge, h, pageHead, replace } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import * as session from '../session.js';
import { announce } from '../status.js';

const FIELDS = ['full_name', 'phone', 'address', 'date_of_birth'];

const KYC_TEXT = {
  unverified: 'Verify your identity to withdraw and send transfers. Submit your details for review.',
  pending: 'Your details are with our team for review. We will update this page when it is done.',
  verified: 'Your identity is verified. Every feature is open to you.',
  rejected: 'Your last submission was rejected. Correct your details and submit again.',
};

/** Which profile field a server message is about (the core names it in words). */
function fieldOfProfileError(error) {
  if (error.code !== 'invalid_profile') return undefined;
  const text = error.detail.toLowerCase();
  if (text.includes('phone')) return 'phone';
  if (text.includes('birth') || text.includes('date')) return 'date_of_birth';
  if (text.includes('address')) return 'address';
  return 'full_name';
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
    fieldOf: fieldOfProfileError,
  });
  return form;
}

function kycPanel(user, onChange) {
  const canSubmit = user.kyc_status === 'unverified' || user.kyc_status === 'rejected';
  const button = h('button', { class: 'button', type: 'submit', text: 'Submit for verification' });
  const form = h('form', { 'aria-label': 'Identity verification' }, h('div', { class: 'form-actions' }, button));
  handleSubmit(form, {
    submit: async () => {
      const updated = await api.post('/api/me/kyc');
      session.remember(updated);
      announce('Submitted for verification.');
      onChange(updated);
    },
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'kyc-h', id: 'kyc' },
    h('h2', { id: 'kyc-h' }, 'Identity verification ', badge(user.kyc_status)),
    h('p', { text: KYC_TEXT[user.kyc_status] ?? '' }),
    user.kyc_status === 'rejected' && user.kyc_reason ? h('p', { class: 'form-error', text: `Reason: ${user.kyc_reason}` }) : null,
    canSubmit ? form : null);
}

/** Renders the profile and KYC panels. */
export async function render(main) {
  const user = await api.get('/api/me');
  session.remember(user);
  const draw = (current) => {
    replace(main,
      pageHead('Profile', `Customer since ${new Date(current.created_at).toLocaleDateString()}.`),
      h('div', { class: 'two-col' },
        h('section', { class: 'panel', 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h', text: 'Your details' }), profileForm(current, () => {})),
        kycPanel(current, draw)));
  };
  draw(user);
}

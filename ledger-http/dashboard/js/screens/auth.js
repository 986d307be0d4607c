// Signed-out screens: sign in, register, and the password reset flow
// (request a token by email, then set a new password with it).

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import { link } from '../router.js';
import * as session from '../session.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const PASSWORD_LEN_MIN = 10;

function wrap(main, heading, intro, ...content) {
  replace(main, h('div', { class: 'auth-wrap' },
    h('div', { class: 'panel' }, h('h1', { text: heading }), intro ? h('p', { class: 'card-sub', text: intro }) : null, content)));
}

function emailInput(autocomplete = 'username') {
  return h('input', { type: 'email', name: 'email', autocomplete, required: true, inputmode: 'email' });
}

function passwordInput(name, autocomplete) {
  return h('input', { type: 'password', name, autocomplete, required: true });
}

function checkEmail(value) {
  if (!value.trim()) return 'Enter your email address.';
  return EMAIL.test(value.trim()) ? null : 'Enter an email address like name@example.com.';
}

function checkNewPassword(password, confirm) {
  return {
    new_password: password.length < PASSWORD_LEN_MIN ? `Use at least ${PASSWORD_LEN_MIN} characters.` : null,
    confirm: password !== confirm ? 'The two passwords differ.' : null,
  };
}

/** Sign in. */
export function login(main, { query, signedIn }) {
  const form = h('form', { 'aria-label': 'Sign in' },
    field('Email', emailInput()),
    field('Password', passwordInput('password', 'current-password')),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Sign in' })));
  handleSubmit(form, {
    validate: (data) => ({
      email: checkEmail(data.get('email')),
      password: data.get('password') ? null : 'Enter your password.',
    }),
    submit: async (data) => {
      const user = await session.login(data.get('email').trim(), data.get('password'));
      signedIn(user);
    },
  });
  wrap(main, 'Sign in', 'Welcome back. Sign in to see your accounts.',
    query.ended ? h('p', { class: 'notice', role: 'alert', text: 'Your session has ended. Please sign in again.' }) : null,
    query.reset ? h('p', { class: 'form-ok', role: 'status', text: 'Your password was changed. Sign in with the new one.' }) : null,
    form,
    h('div', { class: 'auth-links' },
      h('a', { href: link('register'), text: 'Create an account' }),
      h('a', { href: link('reset'), text: 'Forgot your password?' })));
}

/** Register, then sign in. */
export function register(main, { signedIn }) {
  const form = h('form', { 'aria-label': 'Register' },
    field('Full name', h('input', { name: 'full_name', autocomplete: 'name', required: true })),
    field('Email', emailInput()),
    field('Password', passwordInput('password', 'new-password'), { hint: '10 to 128 characters; not a common password.' }),
    field('Confirm password', passwordInput('confirm', 'new-password')),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Create account' })));
  handleSubmit(form, {
    validate: (data) => {
      const { new_password: password, confirm } = checkNewPassword(data.get('password'), data.get('confirm'));
      return {
        full_name: data.get('full_name').trim() ? null : 'Enter your name.',
        email: checkEmail(data.get('email')),
        password,
        confirm,
      };
    },
    submit: async (data) => {
      const email = data.get('email').trim();
      await api.post('/api/auth/register', { email, password: data.get('password'), full_name: data.get('full_name').trim() });
      signedIn(await session.login(email, data.get('password')));
    },
    fieldOf: (error) => ({
      email_taken: 'email', invalid_email: 'email', weak_password: 'password', invalid_profile: 'full_name',
    })[error.code],
  });
  wrap(main, 'Create your account', 'It takes a minute. You can open accounts right away.', form,
    h('div', { class: 'auth-links' }, h('a', { href: link('login'), text: 'I already have an account' })));
}

/** Password reset: request a token, then confirm with it. */
export function reset(main, { query }) {
  const request = h('form', { 'aria-label': 'Request a reset token' },
    field('Email', emailInput('email')),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Send reset token' })));
  handleSubmit(request, {
    validate: (data) => ({ email: checkEmail(data.get('email')) }),
    submit: async (data) => {
      await api.post('/api/auth/password/reset-request', { email: data.get('email').trim() });
      formMessage(request, 'ok', 'If that email is registered, a reset token is on its way. It expires soon and works once.');
      confirm.querySelector('input[name="token"]').focus();
    },
  });
  const confirm = h('form', { 'aria-label': 'Set a new password' },
    field('Reset token', h('input', { name: 'token', autocomplete: 'one-time-code', required: true, value: query.token ?? '' })),
    field('New password', passwordInput('new_password', 'new-password'), { hint: '10 to 128 characters.' }),
    field('Confirm new password', passwordInput('confirm', 'new-password')),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Set new password' })));
  handleSubmit(confirm, {
    validate: (data) => ({
      token: data.get('token').trim() ? null : 'Paste the token you received.',
      ...checkNewPassword(data.get('new_password'), data.get('confirm')),
    }),
    submit: async (data) => {
      await api.post('/api/auth/password/reset', { token: data.get('token').trim(), new_password: data.get('new_password') });
      location.hash = link('login', [], { reset: '1' });
    },
    fieldOf: (error) => ({ invalid_reset_token: 'token', weak_password: 'new_password' })[error.code],
  });
  wrap(main, 'Reset your password', 'Step 1: ask for a token. Step 2: use it to choose a new password. Every session ends.',
    h('h2', { text: '1. Get a token' }), request,
    h('h2', { text: '2. Choose a new password' }), confirm,
    h('div', { class: 'auth-links' }, h('a', { href: link('login'), text: 'Back to sign in' })));
}

// Security: sessions and devices (revoke one, or all others), and the
// password change. A password change ends every other session.

import * as api from '../api.js';
import { dateTime, h, pageHead, replace } from '../dom.js';
import { field, formMessage, handleSubmit } from '../forms.js';
import { problemText } from '../problems.js';
import { announce } from '../status.js';

const PASSWORD_LEN_MIN = 10;

/** "Chrome on Linux" from the label, else a shortened user agent. */
function device(session) {
  if (session.label) return session.label;
  if (!session.user_agent) return 'Unknown device';
  return session.user_agent.length > 60 ? `${session.user_agent.slice(0, 57)}…` : session.user_agent;
}

function sessionsPanel(sessions, reload) {
  const others = sessions.filter((s) => !s.current);
  const rows = sessions.map((s) => h('tr', { dataset: { sessionId: s.id } },
    h('td', {}, h('strong', { text: device(s) }), s.current ? [' ', h('span', { class: 'badge good', text: 'This browser' })] : null,
      h('div', { class: 'card-sub', text: s.client_addr ? `From ${s.client_addr}` : '' })),
    h('td', { class: 'hide-narrow', text: dateTime(s.created_at) }),
    h('td', { text: dateTime(s.last_seen_at) }),
    h('td', {}, s.current ? null : h('button', {
      class: 'button small ghost danger', type: 'button', text: 'Revoke', 'aria-label': `Revoke ${device(s)} session`,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          await api.del(`/api/auth/sessions/${s.id}`);
          announce(`Session on ${device(s)} revoked.`);
        } catch (error) {
          announce(problemText(error));
        }
        await reload();
      },
    }))));
  const revokeOthers = others.length ? h('button', {
    class: 'button ghost danger', type: 'button', text: 'Sign out all other sessions',
    onclick: async (event) => {
      event.currentTarget.disabled = true;
      const { revoked } = await api.del('/api/auth/sessions');
      announce(`${revoked} other session${revoked === 1 ? '' : 's'} signed out.`);
      await reload();
    },
  }) : null;
  return h('section', { class: 'panel', 'aria-labelledby': 'sessions-h' },
    h('h2', { id: 'sessions-h', text: 'Sessions and devices' }),
    h('p', { class: 'card-sub', text: 'Where you are signed in. Revoke any you do not recognise.' }),
    h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Sessions' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Device' }), h('th', { scope: 'col', class: 'hide-narrow', text: 'Signed in' }),
        h('th', { scope: 'col', text: 'Last active' }), h('th', { scope: 'col', text: '' }))),
      h('tbody', {}, rows))),
    revokeOthers ? h('div', { class: 'form-actions' }, revokeOthers) : null);
}

function passwordForm(reload) {
  const input = (name, autocomplete) => h('input', { type: 'password', name, autocomplete, required: true });
  const form = h('form', { 'aria-label': 'Change password' },
    field('Current password', input('current_password', 'current-password')),
    field('New password', input('new_password', 'new-password'), { hint: '10 to 128 characters; other sessions will be signed out.' }),
    field('Confirm new password', input('confirm', 'new-password')),
    h('div', { class: 'form-actions' }, h('button', { class: 'button', type: 'submit', text: 'Change password' })));
  handleSubmit(form, {
    validate: (data) => ({
      current_password: data.get('current_password') ? null : 'Enter your current password.',
      new_password: data.get('new_password').length < PASSWORD_LEN_MIN ? `Use at least ${PASSWORD_LEN_MIN} characters.` : null,
      confirm: data.get('new_password') !== data.get('confirm') ? 'The two passwords differ.' : null,
    }),
    submit: async (data) => {
      await api.post('/api/auth/password/change', { current_password: data.get('current_password'), new_password: data.get('new_password') });
      form.reset();
      formMessage(form, 'ok', 'Password changed. Your other sessions were signed out.');
      await reload();
    },
    fieldOf: (error) => ({ wrong_password: 'current_password', weak_password: 'new_password' })[error.code],
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'password-h' }, h('h2', { id: 'password-h', text: 'Change password' }), form);
}

/** Renders sessions and the password change. */
export async function render(main) {
  const sessionsSlot = h('div');
  const reload = async () => {
    const { items } = await api.get('/api/auth/sessions');
    replace(sessionsSlot, sessionsPanel(items, reload));
  };
  await reload();
  replace(main, pageHead('Security', 'Sessions, devices and your password.'),
    h('div', { class: 'two-col' }, sessionsSlot, passwordForm(reload)));
}

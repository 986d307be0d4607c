// Form plumbing shared by every screen: labelled fields, field errors
// linked with aria-describedby, one submission at a time, a refusal shown
// in the customer's words (problems.js) with what to do next, and
// idempotency keys for money forms.

import { h, replace } from './dom.js';
import { nextStep, problemText } from './problems.js';

let serial = 0;

/**
 * A labelled control. `control` is an <input>, <select> or <textarea>;
 * it gets an id, the label, a hint and an error slot.
 */
export function field(label, control, { hint, name } = {}) {
  serial += 1;
  const id = control.id || `f${serial}`;
  control.id = id;
  if (name) control.name = name;
  const hintEl = hint ? h('div', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  const error = h('div', { class: 'error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl?.id, error.id].filter(Boolean).join(' '));
  return h('div', { class: 'field', dataset: { field: control.name || '' } },
    h('label', { for: id, text: label }), control, hintEl, error);
}

/** A <select> from [value, label] pairs. */
export function select(name, options, { value, required } = {}) {
  const el = h('select', { name, required });
  for (const [optionValue, label] of options) {
    el.append(h('option', { value: optionValue, text: label, selected: optionValue === value }));
  }
  return el;
}

/** Shows (or with null clears) the error of the control named `name`. */
export function setFieldError(form, name, message) {
  const control = form.elements.namedItem(name);
  if (!control || !control.id) return false;
  const error = document.getElementById(`${control.id}-error`);
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
  if (error) {
    error.textContent = message ?? '';
    error.hidden = !message;
  }
  return true;
}

/** Clears every field error and the form's message. */
export function clearErrors(form) {
  for (const control of form.elements) {
    if (control.name) setFieldError(form, control.name, null);
  }
  const message = form.querySelector('.form-message');
  if (message) replace(message);
}

/** Shows a message at the top of the form: `kind` is 'error' or 'ok'; `link` is [text, href]. */
export function formMessage(form, kind, text, link = null) {
  let slot = form.querySelector('.form-message');
  if (!slot) {
    slot = h('div', { class: 'form-message' });
    form.prepend(slot);
  }
  replace(slot, text ? h('div', {
    class: kind === 'error' ? 'form-error' : 'form-ok',
    role: kind === 'error' ? 'alert' : 'status',
  }, text, link ? [' ', h('a', { href: link[1], text: `${link[0]} →` })] : null) : null);
}

/** Shows a failed request in the form: on its field if `name` is one, else at the top with what to do next. */
export function showProblem(form, error, name) {
  const text = problemText(error);
  if (name && setFieldError(form, name, text)) {
    form.elements.namedItem(name)?.focus?.();
    return;
  }
  formMessage(form, 'error', text, nextStep(error));
}

/**
 * Runs `validate` (returns {field: message} for client-side mistakes) and,
 * if clean, `submit` once: the submit button is disabled while in flight.
 * A server error goes to the field `fieldOf(error)` names, or to the top.
 */
export function handleSubmit(form, { validate, submit, fieldOf }) {
  let busy = false;
  form.noValidate = true;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    clearErrors(form);
    const errors = validate ? validate(new FormData(form)) : {};
    const names = Object.keys(errors).filter((k) => errors[k]);
    if (names.length) {
      for (const name of names) {
        if (!setFieldError(form, name, errors[name])) formMessage(form, 'error', errors[name]);
      }
      form.elements.namedItem(names[0])?.focus?.();
      return;
    }
    busy = true;
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    buttons.forEach((b) => { b.disabled = true; b.setAttribute('aria-busy', 'true'); });
    try {
      await submit(new FormData(form));
    } catch (error) {
      if (!(error instanceof Error) || error.status === undefined) console.warn(error);
      showProblem(form, error, fieldOf?.(error));
    } finally {
      busy = false;
      buttons.forEach((b) => { b.disabled = false; b.removeAttribute('aria-busy'); });
    }
  });
}

/**
 * Idempotency keys for one form: a fresh key per submission, except that
 * retrying the very same payload after a network failure (the request may
 * have arrived) reuses the key, so the server applies it at most once.
 */
export class IdempotencyKeys {
  #pending = null;

  /** The key for this payload. */
  keyFor(payload) {
    const fingerprint = JSON.stringify(payload);
    if (this.#pending?.fingerprint !== fingerprint) {
      this.#pending = { fingerprint, key: crypto.randomUUID() };
    }
    return this.#pending.key;
  }

  /** After an answer from the server (success or refusal): the next submission is new. */
  settled() {
    this.#pending = null;
  }
}

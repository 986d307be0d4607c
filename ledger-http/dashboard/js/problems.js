// What a refusal means, in a customer's words, by the problem's stable
// `code`: the dashboard never shows the server's `detail` (its wording may
// change, and it is written for developers). A code not listed here gets a
// sentence by its HTTP status.

const WORDS = {
  // Money
  invalid_amount: 'Enter an amount greater than zero with no more decimals than the currency allows.',
  insufficient_funds: 'There is not enough money available in this account for that.',
  same_account: 'Choose two different accounts.',
  currency_mismatch: 'Both accounts must be in the same currency.',
  invalid_description: 'The description is too long or holds characters we cannot store.',
  idempotency_conflict: 'This request was already sent with different details. Reload the page and try again.',
  idempotency_key_required: 'Something went wrong sending this form. Reload the page and try again.',
  balance_overflow: 'That amount is too large for this account.',
  kyc_required: 'You need a verified identity to send money out of your accounts.',
  recipient_unavailable: 'The recipient\'s account cannot receive money right now.',
  payer_unavailable: 'The paying account cannot pay right now.',
  account_frozen: 'This account is frozen: it cannot send or receive money until our team unfreezes it.',
  account_closed: 'This account is closed.',
  account_not_found: 'We could not find that account.',
  account_number_not_found: 'No account has that number. Check it and try again.',
  invalid_account_number: 'That is not a valid account number: check the 12 digits.',
  payee_not_found: 'No account in this currency has that number. Check it and try again.',
  payee_lookups_exhausted: 'You have checked many account numbers in a short time. Wait a few minutes and try again.',
  internal_account: 'That account cannot be used here.',
  // Holds
  not_a_hold: 'That transaction is not a hold.',
  hold_not_pending: 'This hold was already captured, released or expired.',
  hold_expired: 'This hold has expired; the money was released.',
  capture_exceeds_hold: 'You cannot capture more than the amount held.',
  invalid_expiry: 'Choose an expiry in the future, at most 30 days ahead.',
  // Accounts
  invalid_account_name: 'Use a name of at most 64 characters.',
  invalid_account_kind: 'Choose checking, savings or investment.',
  invalid_currency: 'Choose a currency we support.',
  too_many_accounts: 'You have reached the maximum number of accounts.',
  account_not_empty: 'Move the money out of this account before closing it: its balance must be zero.',
  account_has_open_holds: 'This account has open holds. Capture or release them before closing it.',
  invalid_status_transition: 'This account cannot change to that status now.',
  // History and statements
  invalid_filter: 'One of the filters is not valid. Check the amounts and dates.',
  invalid_cursor: 'That page is no longer available. Start again from the newest.',
  invalid_page_size: 'That page size is not allowed.',
  invalid_query: 'One of the filters is not valid.',
  invalid_period: 'Choose a start date before the end date.',
  statement_too_long: 'That period is too long for one statement. Choose a shorter one.',
  instant_in_future: 'Choose a date that is not in the future.',
  transaction_not_found: 'We could not find that transaction.',
  not_found: 'We could not find what you asked for.',
  // Reversals (admins)
  not_reversible: 'This transaction cannot be reversed.',
  already_reversed: 'All of this transaction has already been reversed.',
  invalid_reversal: 'Only a transaction with a single posting can be reversed in part.',
  reversal_exceeds_original: 'That is more than is left to reverse.',
  // Identity
  invalid_email: 'Enter an email address like name@example.com.',
  email_taken: 'An account with this email already exists. Sign in instead, or reset your password.',
  weak_password: 'Choose a longer, less common password (at least 10 characters).',
  invalid_credentials: 'The email or password is wrong.',
  wrong_password: 'Your current password is wrong.',
  invalid_reset_token: 'This reset token is wrong, expired or already used. Ask for a new one.',
  too_many_attempts: 'Too many attempts. Wait a few minutes and try again.',
  invalid_profile: 'One of your details is not valid. Check the highlighted field.',
  profile_incomplete: 'Add your date of birth and address to your profile first: they are what we review.',
  invalid_kyc_transition: 'Your identity review is already under way or done.',
  invalid_kyc_reason: 'Give a reason of at most 500 characters.',
  invalid_device_label: 'That device name is not valid.',
  user_not_found: 'We could not find that person.',
  session_not_found: 'That session has already ended.',
  unauthenticated: 'Your session has ended. Please sign in again.',
  forbidden: 'You are not allowed to do that.',
  csrf_token_invalid: 'Your session needs refreshing. Reload the page and try again.',
  // Transport
  rate_limited: 'Too many requests in a short time. Wait a moment and try again.',
  too_many_requests: 'Too many requests in a short time. Wait a moment and try again.',
  request_timeout: 'The service took too long to answer. Try again.',
  storage_unavailable: 'The service is briefly unavailable. Try again in a moment.',
  network_error: 'The network failed. Check your connection and try again.',
};

const BY_STATUS = {
  400: 'Something in this form was not understood. Check it and try again.',
  401: 'Your session has ended. Please sign in again.',
  403: 'You are not allowed to do that.',
  404: 'We could not find what you asked for.',
  409: 'That cannot be done in the current state. Reload and try again.',
  422: 'Something in this form is not valid. Check it and try again.',
  429: 'Too many requests in a short time. Wait a moment and try again.',
};

/** The sentence for a failed request (an ApiError), or for any other error. */
export function problemText(error) {
  const words = WORDS[error?.code];
  if (words) return words;
  if (error?.status >= 500) return 'Something went wrong on our side. Try again in a moment.';
  return BY_STATUS[error?.status] ?? 'Something went wrong. Try again.';
}

/** What the customer can do about it: a link [text, hash], or null. */
export function nextStep(error) {
  return {
    kyc_required: ['Verify your identity on your profile', '#/profile'],
    profile_incomplete: ['Complete your profile', '#/profile'],
    account_frozen: ['See your accounts', '#/accounts'],
  }[error?.code] ?? null;
}

/** Whether a sentence exists for this code (for the tests). */
export function knows(code) {
  return Object.hasOwn(WORDS, code);
}

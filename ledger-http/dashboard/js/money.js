// Money as the server sends it: decimal strings ("1234.50"). Nothing here
// turns an amount into a floating-point number: formatting splits the
// string, groups the whole part as a BigInt and keeps the fraction digits
// as written. The server decides what is valid; `checkAmount` only catches
// typing mistakes before a round trip.

const formatters = new Map();

function currencyFormat(currency, locale) {
  const key = `${locale ?? ''}|${currency}`;
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.NumberFormat(locale, { style: 'currency', currency }));
  }
  return formatters.get(key);
}

/** The number of minor-unit digits of a currency (USD 2, JPY 0). */
export function minorUnits(currency) {
  try {
    return currencyFormat(currency).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

const AMOUNT = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Formats a decimal string in its currency for the reader's locale,
 * e.g. formatMoney("-1234.5", "USD") -> "-$1,234.50". Exact for any size.
 */
export function formatMoney(amount, currency, locale) {
  const match = AMOUNT.exec(String(amount).trim());
  if (!match) return `${amount} ${currency}`;
  const [, sign, whole, fraction = ''] = match;
  let format;
  try {
    format = currencyFormat(currency, locale);
  } catch {
    return `${amount} ${currency}`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits;
  // The layout (sign, symbol, spacing) from a template number; the digits from the string.
  const template = format.formatToParts(sign ? -1 : 1);
  const grouped = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(BigInt(whole));
  const decimal = template.find((p) => p.type === 'decimal')?.value ?? '.';
  const shown = fraction.length >= digits ? fraction : fraction.padEnd(digits, '0');
  const number = shown ? `${grouped}${decimal}${shown}` : grouped;
  let placed = false;
  return template.map((part) => {
    if (part.type === 'integer') {
      if (placed) return '';
      placed = true;
      return number;
    }
    if (part.type === 'group' || part.type === 'decimal' || part.type === 'fraction') return '';
    return part.value;
  }).join('');
}

/** Whether a decimal string is negative. */
export function isNegative(amount) {
  return String(amount).trim().startsWith('-');
}

/**
 * A message if `text` is not a positive amount with at most the currency's
 * minor-unit digits, else null.
 */
export function checkAmount(text, currency) {
  const value = String(text).trim();
  if (value === '') return 'Enter an amount.';
  const digits = minorUnits(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) return 'Enter a number like 12.50, without signs, spaces or separators.';
  if ((match[2] ?? '').length > digits) {
    return digits === 0 ? `${currency} has no minor unit: enter a whole number.` : `Use at most ${digits} decimal places for ${currency}.`;
  }
  if (/^0*(\.0*)?$/.test(value)) return 'The amount must be more than zero.';
  return null;
}

/** The number of fraction digits the widest of these decimal strings has. */
export function scaleOf(amounts) {
  return Math.max(0, ...amounts.map((a) => (AMOUNT.exec(String(a).trim())?.[3] ?? '').length));
}

/**
 * A decimal string as a BigInt count of 10^-scale units, exactly:
 * toUnits("12.5", 2) -> 1250n. `scale` must be at least its fraction digits.
 */
export function toUnits(amount, scale) {
  const match = AMOUNT.exec(String(amount).trim());
  if (!match) throw new RangeError(`not an amount: ${amount}`);
  const [, sign, whole, fraction = ''] = match;
  if (fraction.length > scale) throw new RangeError(`${amount} has more than ${scale} decimals`);
  const units = BigInt(whole + fraction.padEnd(scale, '0'));
  return sign ? -units : units;
}

/** The decimal string of a BigInt count of 10^-scale units: fromUnits(1250n, 2) -> "12.50". */
export function fromUnits(units, scale) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = scale ? `.${digits.slice(digits.length - scale)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/**
 * The exact sum of decimal strings (as a decimal string), using BigInt on a
 * common scale: for totals across accounts.
 */
export function sumAmounts(amounts) {
  const parsed = amounts.filter((a) => AMOUNT.test(String(a).trim()));
  const scale = scaleOf(parsed);
  return fromUnits(parsed.reduce((total, a) => total + toUnits(a, scale), 0n), scale);
}

/** The decimal string with the other sign ("12.50" -> "-12.50"); zero stays unsigned. */
export function negate(amount) {
  const value = String(amount).trim();
  if (value.startsWith('-')) return value.slice(1);
  return /^0*(\.0*)?$/.test(value) ? value : `-${value}`;
}

/** -1, 0 or 1 as `a` is less than, equal to or more than `b` (decimal strings, exactly). */
export function compareAmounts(a, b) {
  const scale = scaleOf([a, b]);
  const difference = toUnits(a, scale) - toUnits(b, scale);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/**
 * A decimal string written with its currency's minor-unit digits and no
 * symbol or grouping, as the API writes amounts: plainAmount("30", "USD") -> "30.00".
 */
export function plainAmount(amount, currency) {
  const match = AMOUNT.exec(String(amount).trim());
  if (!match) return String(amount);
  const [, sign, whole, fraction = ''] = match;
  const digits = Math.max(minorUnits(currency), fraction.length);
  return `${sign}${BigInt(whole)}${digits ? `.${fraction.padEnd(digits, '0')}` : ''}`;
}

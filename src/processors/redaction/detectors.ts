import { isIPv6 } from 'node:net';

/** A value detector: finds sensitive substrings in any string value. */
export interface Detector {
  /** Config name under `detectors:`. */
  name: DetectorName;
  /** Category in the replacement (`REDACTED-<CATEGORY>-…`). */
  category: string;
  /** Global regex; the match (or `group`) is what gets replaced. */
  regex: RegExp;
  group?: number;
  /** Extra check on the candidate (Luhn, JWT header, IPv6 syntax). */
  valid?: (candidate: string) => boolean;
}

export const DETECTOR_NAMES = ['private_key', 'jwt', 'bearer', 'aws_access_key', 'credit_card', 'email', 'ssn', 'phone', 'ip'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

/** Luhn checksum over the digits of s. */
export function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** A payment card number: 13–19 digits, a known issuer prefix, and a valid Luhn checksum. */
export function isCardNumber(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  // Visa 4, Mastercard 51-55 / 2221-2720, Amex 34/37, Discover 6011/65/644-649, JCB 35, Diners 30/36/38, UnionPay 62
  if (!/^(4|5[1-5]|2[2-7]|3[47]|3[0689]|35|6)/.test(digits)) return false;
  return luhn(digits);
}

function base64UrlJson(s: string): unknown {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A JWT: three base64url parts whose first decodes to a JSON header with `alg` or `typ`. */
export function isJwt(candidate: string): boolean {
  const parts = candidate.split('.');
  if (parts.length !== 3) return false;
  const h = base64UrlJson(parts[0]!);
  return typeof h === 'object' && h !== null && ('alg' in h || 'typ' in h);
}

export const DETECTORS: Record<DetectorName, Detector> = {
  private_key: {
    name: 'private_key', category: 'PRIVATE_KEY',
    regex: /-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----/g,
  },
  jwt: { name: 'jwt', category: 'JWT', regex: /\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, valid: isJwt },
  bearer: { name: 'bearer', category: 'BEARER', regex: /\b(?:Bearer|Basic|Token)\s+([A-Za-z0-9\-._~+/]{6,}=*)/gi, group: 1 },
  aws_access_key: { name: 'aws_access_key', category: 'AWS_KEY', regex: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}\b/g },
  credit_card: { name: 'credit_card', category: 'CREDIT_CARD', regex: /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g, valid: isCardNumber },
  email: { name: 'email', category: 'EMAIL', regex: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g },
  ssn: { name: 'ssn', category: 'SSN', regex: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g },
  phone: { name: 'phone', category: 'PHONE', regex: /(?<![\w+])\+[1-9]\d{7,14}(?!\d)/g },
  ip: {
    name: 'ip', category: 'IP',
    // IPv4 (not part of a longer dotted version string), or an IPv6 candidate checked by node:net.
    regex: /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)|(?<![\w:.])(?=[0-9A-Fa-f:]*::?[0-9A-Fa-f])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])/g,
    valid: (s) => s.includes('.') ? true : isIPv6(s) && /[0-9a-f]/i.test(s) && s.length >= 3,
  },
};

/** Words that make a key sensitive wherever they appear in it (`password_hash`, `aws_secret_access_key`). */
const STRONG_WORDS = new Map<string, string>([
  ['authorization', 'AUTHORIZATION'], ['cookie', 'COOKIE'], ['cookies', 'COOKIE'],
  ['password', 'PASSWORD'], ['passwd', 'PASSWORD'], ['passphrase', 'PASSWORD'],
  ['secret', 'SECRET'], ['apikey', 'API_KEY'], ['credential', 'CREDENTIAL'], ['credentials', 'CREDENTIAL'], ['privatekey', 'PRIVATE_KEY'],
]);
/** Words that make a key sensitive only as its last word (`access_token`, but not `token_type` or `train_mean_token_accuracy`). */
const TAIL_WORDS = new Map<string, string>([
  ['token', 'TOKEN'], ['auth', 'AUTHORIZATION'], ['pwd', 'PASSWORD'], ['sessionid', 'SESSION'], ['accesskey', 'SECRET'], ['secretkey', 'SECRET'],
]);

/** Split a key into lower-case words: "X-Amz-Security-Token" → [x, amz, security, token]; "accessToken" → [access, token]. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * The category when a key is named like a credential (authorization, cookie, set-cookie, password,
 * secret, token, api-key, x-amz-security-token …), else undefined. Whole words only, so
 * `X-Ratelimit-Remaining-Tokens` and `max_tokens` are not secrets but `access_token` is.
 */
export function sensitiveKeyCategory(key: string): string | undefined {
  const cached = keyCache.get(key);
  if (cached !== undefined) return cached || undefined;
  const c = keyCategory(key);
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(key, c ?? '');
  return c;
}

const keyCache = new Map<string, string>();

function keyCategory(key: string): string | undefined {
  const words = keyWords(key);
  for (let i = 0; i < words.length; i++) {
    const one = STRONG_WORDS.get(words[i]!);
    if (one) return one;
    if (i + 1 < words.length) {
      const two = STRONG_WORDS.get(words[i]! + words[i + 1]!);
      if (two) return two;
    }
  }
  const n = words.length;
  if (n === 0) return undefined;
  return TAIL_WORDS.get(words[n - 1]!) ?? (n >= 2 ? TAIL_WORDS.get(words[n - 2]! + words[n - 1]!) : undefined);
}

import { DETECTOR_NAMES, type DetectorName } from './detectors.js';

/**
 * Cheap necessary conditions, checked before any regex runs on a string. Each is implied by a
 * match of the regex it guards (a superset, never a guess), so skipping the regex when it fails
 * changes no output: it only saves the scan. A union of the detectors' own hints did not pay,
 * since `\d{4}`, `@` and `+` are in nearly every string; these conditions are selective.
 */

/** The bit of each detector in detectorCandidates' answer. */
export const DETECTOR_BIT = Object.fromEntries(DETECTOR_NAMES.map((n, i) => [n, 1 << i])) as Record<DetectorName, number>;

const PRIVATE_KEY = DETECTOR_BIT.private_key;
const JWT = DETECTOR_BIT.jwt;
const BEARER = DETECTOR_BIT.bearer;
const AWS = DETECTOR_BIT.aws_access_key;
const CARD = DETECTOR_BIT.credit_card;
const EMAIL = DETECTOR_BIT.email;
const SSN = DETECTOR_BIT.ssn;
const PHONE = DETECTOR_BIT.phone;
const IP = DETECTOR_BIT.ip;

// What each ASCII character does to the runs detectorCandidates follows.
const OTHER = 0;
const LOWER_GZ = 1; // g-z: in no run
const LOWER_AF = 2; // a-f: hex only
const UPPER_AF = 3; // A-F: hex and upper-case
const UPPER_GZ = 4; // G-Z (but J): upper-case only
const J = 5;
const DIGIT = 6;
const SPACE = 7;
const DASH = 8;
const DOT = 9;
const COLON = 10;
const AT = 11;
const PLUS = 12;
const WHITESPACE = 13; // \s other than the space
const KIND = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  KIND[c] = /[g-z]/.test(ch) ? LOWER_GZ : /[a-f]/.test(ch) ? LOWER_AF : /[A-F]/.test(ch) ? UPPER_AF : ch === 'J' ? J : /[G-Z]/.test(ch) ? UPPER_GZ
    : /[0-9]/.test(ch) ? DIGIT : ch === ' ' ? SPACE : ch === '-' ? DASH : ch === '.' ? DOT : ch === ':' ? COLON : ch === '@' ? AT : ch === '+' ? PLUS
    : /\s/.test(ch) ? WHITESPACE : OTHER;
}
const EMAIL_LOCAL = /[A-Za-z0-9._%+-]/;
const DOMAIN = /[A-Za-z0-9-]/;
const isEmailLocal = (c: number): boolean => c < 128 && EMAIL_LOCAL.test(String.fromCharCode(c));
const isDomain = (c: number): boolean => c < 128 && DOMAIN.test(String.fromCharCode(c));

/** Exactly the characters of the regex class `\s`. */
export function isRegexSpace(c: number): boolean {
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function endsWithWord(s: string, end: number, word: string): boolean {
  const start = end - word.length;
  if (start < 0) return false;
  for (let i = 0; i < word.length; i++) if ((s.charCodeAt(start + i) | 32) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * The detectors (bits of DETECTOR_BIT) whose regex can match somewhere in s, by one pass over
 * its characters: a digit run (single spaces or dashes between) of 13 digits for a card, 9 with
 * two dashes for an SSN; a `+` before 8 digits for a phone; 3 dots in a run of digits and dots, or 2 colons in a
 * run of hex digits and colons, for an IP; an `@` between address characters; `eyJ`; 20
 * upper-case letters or digits in a row for an AWS key id; `bearer`/`basic`/`token` before a
 * space; `PRIVATE KEY-----`.
 */
export function detectorCandidates(s: string): number {
  const n = s.length;
  let mask = n >= 50 && s.includes('PRIVATE KEY-----') ? PRIVATE_KEY : 0;
  let chain = 0; // digits joined by single spaces or dashes
  let dashes = 0; // dashes in that chain
  let sep = false; // the last character was such a space or dash
  let upper = 0; // [A-Z0-9] in a row
  let dots = 0; // dots in a run of [0-9.]
  let colons = 0; // colons in a run of [0-9A-Fa-f:]
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    switch (c < 128 ? KIND[c] : isRegexSpace(c) ? WHITESPACE : OTHER) {
      case LOWER_GZ:
        // most of any text: a run of them is skipped in one step
        while (i + 1 < n && KIND[s.charCodeAt(i + 1)] === LOWER_GZ) i++;
        chain = dashes = upper = dots = colons = 0;
        sep = false;
        break;
      case LOWER_AF:
        chain = dashes = upper = dots = 0;
        sep = false;
        break;
      case UPPER_AF:
        chain = dashes = dots = 0;
        sep = false;
        if (++upper >= 20) mask |= AWS;
        break;
      case J:
        if (i >= 2 && s.charCodeAt(i - 1) === 121 && s.charCodeAt(i - 2) === 101) mask |= JWT;
        chain = dashes = dots = colons = 0;
        sep = false;
        if (++upper >= 20) mask |= AWS;
        break;
      case UPPER_GZ:
        chain = dashes = dots = colons = 0;
        sep = false;
        if (++upper >= 20) mask |= AWS;
        break;
      case DIGIT:
        sep = false;
        if (++chain >= 13) mask |= CARD;
        if (chain >= 9 && dashes >= 2) mask |= SSN;
        if (++upper >= 20) mask |= AWS;
        break;
      case SPACE:
        if (sep) chain = dashes = 0;
        sep = true;
        upper = dots = colons = 0;
        if (i >= 5 && bearerBefore(s, i)) mask |= BEARER;
        break;
      case DASH:
        if (sep) chain = dashes = 0;
        else dashes++;
        sep = true;
        upper = dots = colons = 0;
        break;
      case DOT:
        chain = dashes = upper = colons = 0;
        sep = false;
        if (++dots >= 3) mask |= IP;
        break;
      case COLON:
        chain = dashes = upper = dots = 0;
        sep = false;
        if (++colons >= 2) mask |= IP;
        break;
      case AT:
        chain = dashes = upper = dots = colons = 0;
        sep = false;
        if (i > 0 && i + 1 < n && isEmailLocal(s.charCodeAt(i - 1)) && isDomain(s.charCodeAt(i + 1))) mask |= EMAIL;
        break;
      case PLUS: {
        chain = dashes = upper = dots = colons = 0;
        sep = false;
        let d = 0;
        while (d < 8 && i + 1 + d < n && KIND[s.charCodeAt(i + 1 + d)] === DIGIT) d++;
        if (d === 8 && s.charCodeAt(i + 1) !== 48) mask |= PHONE;
        break;
      }
      case WHITESPACE:
        chain = dashes = upper = dots = colons = 0;
        sep = false;
        if (i >= 5 && bearerBefore(s, i)) mask |= BEARER;
        break;
      default:
        chain = dashes = upper = dots = colons = 0;
        sep = false;
    }
  }
  return mask;
}

/** `bearer`, `basic` or `token` (any case) ends just before i. */
function bearerBefore(s: string, i: number): boolean {
  const l = s.charCodeAt(i - 1) | 32;
  if (l === 114) return endsWithWord(s, i, 'bearer');
  if (l === 99) return endsWithWord(s, i, 'basic');
  return l === 110 && endsWithWord(s, i, 'token');
}

/** Lower-case pieces one of which every key named like a credential contains once `_`, `.`, `-` are removed (see sensitiveKeyCategory). */
const CREDENTIAL_PIECE = /auth|cookie|pass|secret|apikey|credential|privatekey|token|pwd|sessionid|accesskey/;

function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}

/**
 * Whether a `key: value` / `key=value` in s can have a key named like a credential (`hasRule`):
 * for every `:` or `=`, the keys the key=value regex can take there are the suffixes (from a
 * letter, at most 64 characters) of the run of key characters before it, past spaces and one
 * quote. Only runs holding a credential word are looked at suffix by suffix.
 */
export function mayHoldCredentialKey(s: string, hasRule: (key: string) => boolean): boolean {
  let colon = s.indexOf(':');
  let eq = s.indexOf('=');
  while (colon >= 0 || eq >= 0) {
    let at: number;
    if (eq < 0 || (colon >= 0 && colon < eq)) {
      at = colon;
      colon = s.indexOf(':', at + 1);
    } else {
      at = eq;
      eq = s.indexOf('=', at + 1);
    }
    let j = at - 1;
    while (j >= 0 && isRegexSpace(s.charCodeAt(j))) j--;
    if (j >= 0 && (s.charCodeAt(j) === 34 || s.charCodeAt(j) === 39)) j--;
    const end = j + 1;
    while (j >= 0 && end - j <= 64 && isKeyChar(s.charCodeAt(j))) j--;
    if (end - (j + 1) < 2) continue;
    const run = s.slice(j + 1, end);
    const lower = run.toLowerCase();
    if (!CREDENTIAL_PIECE.test(lower.includes('_') || lower.includes('.') || lower.includes('-') ? lower.replace(/[_.-]/g, '') : lower)) continue;
    for (let k = 0; k <= run.length - 2; k++) {
      const c = run.charCodeAt(k) | 32;
      if (c >= 97 && c <= 122 && hasRule(run.slice(k))) return true;
    }
  }
  return false;
}

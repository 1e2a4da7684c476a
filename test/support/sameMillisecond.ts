/** What the same-millisecond test files share: timestamps a millisecond apart and in one millisecond, and names. */

/** A deploy well before the cases' timestamps: the service's baseline. */
export const EARLIER = '2024-05-06T21:00:00Z';

/** Two timestamps for each case: a millisecond apart, and in the same millisecond (only the nanoseconds differ). */
export const TIMINGS = {
  'a millisecond apart': ['2024-05-06T22:58:04.354100Z', '2024-05-06T22:58:04.355900Z'],
  'in the same millisecond': ['2024-05-06T22:58:04.355100Z', '2024-05-06T22:58:04.355900Z'],
} as const;

export const SA0 = 'zero@acme-prod.iam.gserviceaccount.com';
export const SA1 = 'one@acme-prod.iam.gserviceaccount.com';
export const SA2 = 'two@acme-prod.iam.gserviceaccount.com';

/** An image tag (or name part) made of a timestamp's digits, so each deploy's image differs. */
export const tag = (time: string): string => `t${time.replace(/\D/g, '')}`;

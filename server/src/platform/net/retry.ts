/**
 * Retry policy for outbound calls: which outcomes are worth another attempt, and how
 * long to wait first. Full jitter (a random wait between 0 and the exponential bound)
 * spreads out clients that failed together, so they do not come back in lock-step and
 * knock the recovering upstream over again.
 */

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 4_000;

// Statuses that say "try again later" rather than "this request is wrong".
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** True for the HTTP statuses a retry may fix. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Full-jitter exponential backoff for retry number `attempt` (0 for the first retry). */
export function backoffMs(attempt: number, random: () => number): number {
  const bound = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.floor(random() * bound);
}

/**
 * Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or null
 * when absent or unreadable. A date in the past means "now".
 */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates start with the day name; Date.parse alone would take "-1" as a year.
  const date = /^[a-z]{3}/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - now.getTime());
}

/**
 * The wait before retry number `attempt`: the server's Retry-After when it sent one,
 * else jittered backoff; never longer than the cap, so one upstream cannot park a
 * user's request for minutes (the caller gets the last response instead).
 */
export function retryDelayMs(attempt: number, retryAfter: string | null, now: Date, random: () => number): number {
  const asked = parseRetryAfter(retryAfter, now);
  return asked === null ? backoffMs(attempt, random) : Math.min(asked, BACKOFF_CAP_MS);
}

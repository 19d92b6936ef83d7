/**
 * Where to go after signing in: only a path on this origin. `//evil.example`, `/\evil`,
 * `javascript:`, absolute URLs, and paths that become protocol-relative once normalised
 * (`/.//evil.example`, `/..//x`, `/%2e//x`) fall back to the default (no open redirect).
 */
export function sameOriginPath(next: string | null | undefined, origin: string, fallback: string): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  // Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(next)) return fallback;
  try {
    const url = new URL(next, origin);
    if (url.origin !== origin) return fallback;
    // Dot segments are resolved now; a path that starts with two slashes (or a backslash,
    // which browsers read as one) would leave the origin when navigated to.
    if (url.pathname.startsWith('//') || url.pathname.startsWith('/\\')) return fallback;
    if (/^\/sign-(in|up)(\/|$)/.test(url.pathname)) return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

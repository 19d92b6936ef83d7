/**
 * Where to go after signing in: only a path on this origin. `//evil.example`, `/\evil`,
 * `javascript:` and absolute URLs fall back to the default (no open redirect).
 */
import { replaceState } from '$app/navigation';

export function safeNext(next: string | null | undefined, fallback = '/chat'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  // Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(next)) return fallback;
  try {
    const url = new URL(next, location.origin);
    if (url.origin !== location.origin) return fallback;
    if (/^\/sign-(in|up)(\/|$)/.test(url.pathname)) return fallback;
    return url.pathname + url.search + url.hash;
  } catch {
    return fallback;
  }
}

/** Reads `key=value` pairs from the URL fragment (tokens travel there: never in logs or Referer). */
export function fragmentParams(): URLSearchParams {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

/**
 * Drops the fragment from the address bar and history, so a token does not linger. Pages
 * call this while they first render, when SvelteKit's router may not be ready yet (its
 * replaceState throws then): try again once it is, and fall back to the History API.
 */
export function clearFragment(): void {
  if (!location.hash) return;
  const url = location.pathname + location.search;
  try {
    replaceState(url, {});
  } catch {
    setTimeout(() => {
      try {
        replaceState(url, {});
      } catch {
        history.replaceState(history.state, '', url);
      }
    }, 0);
  }
}

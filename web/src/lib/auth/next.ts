import { replaceState } from '$app/navigation';
import { sameOriginPath } from './safe-next';

/** Where to go after signing in: a same-origin path, else `fallback` (see safe-next.ts). */
export function safeNext(next: string | null | undefined, fallback = '/chat'): string {
  return sameOriginPath(next, location.origin, fallback);
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

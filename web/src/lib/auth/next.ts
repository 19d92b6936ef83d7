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

const HELD_FRAGMENT = 'bastion.held-fragment';

/**
 * Keeps this address's fragment (a mailed link's id and token) across the detour through
 * sign-in, in this tab's sessionStorage: it is never put into the `next` query string, where
 * it would reach the server's access log.
 */
export function holdFragment(path = location.pathname): void {
  if (!location.hash) return;
  try {
    sessionStorage.setItem(HELD_FRAGMENT, JSON.stringify({ path, hash: location.hash }));
  } catch {
    // storage disabled: the link has to be opened again after signing in
  }
}

/** `next` with the fragment held for its path, once (see holdFragment). */
export function withHeldFragment(next: string): string {
  try {
    const held = JSON.parse(sessionStorage.getItem(HELD_FRAGMENT) ?? 'null') as { path: string; hash: string } | null;
    sessionStorage.removeItem(HELD_FRAGMENT);
    if (held && new URL(next, location.origin).pathname === held.path && !next.includes('#')) return next + held.hash;
  } catch {
    // nothing held, or storage disabled
  }
  return next;
}

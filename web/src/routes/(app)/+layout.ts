import { redirect } from '@sveltejs/kit';
import { ApiError, signInUrl } from '$lib/api';
import { holdFragment } from '$lib/auth/next';
import { session } from '$lib/auth/session.svelte';
import type { LayoutLoad } from './$types';

/**
 * Every signed-in screen: the user and their workspaces are loaded before any page
 * (pages that call workspace-scoped APIs in their own load should `await parent()`).
 */
export const load: LayoutLoad = async ({ url }) => {
  const wasSignedIn = session.me !== null;
  try {
    await session.load();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      holdFragment(url.pathname); // a mailed link's token (/exports#id=…&token=…) comes back after sign-in
      redirect(307, signInUrl(url.pathname + url.search, wasSignedIn ? 'expired' : undefined));
    }
    throw error;
  }
  const me = session.me!;
  // REQUIRE_MFA: everything but 2FA setup answers 403 until it is enrolled.
  if (me.mfaEnrollmentRequired && url.pathname !== '/account') redirect(307, '/account#two-factor');
  return { me, workspace: session.workspace };
};

import { redirect } from '@sveltejs/kit';
import { api, ApiError } from '$lib/api';
import type { PageLoad } from './$types';

/** `/`: the chat when signed in, else sign-in. */
export const load: PageLoad = async () => {
  let signedIn = false;
  try {
    await api.get('/me', { redirectOn401: false });
    signedIn = true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  redirect(307, signedIn ? '/chat' : '/sign-in');
};

/**
 * The signed-in person and their workspaces, shared by the app shell and every screen.
 * The (app) layout fills it; screens read `session.me` and `session.workspace`.
 */
import { api, currentWorkspace, setWorkspace } from '$lib/api';
import type { AuthOptions, Me, PendingInvitation, Permission, Workspace } from './types';

class Session {
  me = $state<Me | null>(null);
  workspaces = $state<Workspace[]>([]);
  workspaceId = $state<string | null>(currentWorkspace());
  /** Workspace invitations addressed to this person, waiting for an answer. */
  invitations = $state<PendingInvitation[]>([]);

  get workspace(): Workspace | null {
    return this.workspaces.find((w) => w.id === this.workspaceId) ?? null;
  }

  /** Whether the caller's role in the current workspace allows `permission` (the server sends the list; it still decides). */
  can(permission: Permission): boolean {
    return this.workspace?.permissions.includes(permission) ?? false;
  }

  /** Loads the user (throws ApiError 401 when signed out) and their workspaces; keeps the remembered choice if still valid. */
  async load(): Promise<void> {
    this.me = await api.get<Me>('/me', { redirectOn401: false });
    if (this.me.mfaEnrollmentRequired) return; // other calls answer 403 until 2FA is set up
    const { workspaces } = await api.get<{ workspaces: Workspace[] }>('/workspaces');
    this.workspaces = workspaces;
    // Not essential to any screen: a failure leaves the banner out.
    this.invitations = await api
      .get<{ invitations: PendingInvitation[] }>('/workspaces/invitations/mine')
      .then((body) => body.invitations)
      .catch(() => []);
    const remembered = workspaces.find((w) => w.id === currentWorkspace());
    this.choose((remembered ?? workspaces.find((w) => w.personal) ?? workspaces[0])?.id ?? null);
  }

  choose(id: string | null): void {
    setWorkspace(id);
    this.workspaceId = id;
  }

  clear(): void {
    this.me = null;
    this.workspaces = [];
    this.invitations = [];
  }
}

export const session = new Session();

let optionsPromise: Promise<AuthOptions> | null = null;

/** How people sign in here; a server without GET /auth/options gets the defaults (no SSO button). */
export function authOptions(): Promise<AuthOptions> {
  optionsPromise ??= api.get<AuthOptions>('/auth/options', { redirectOn401: false }).catch(() => ({ registration: 'open', sso: false, passwordMinLength: 8 }) as AuthOptions);
  return optionsPromise;
}

/**
 * The signed-in person and their workspaces, shared by the app shell and every screen.
 * The (app) layout fills it; screens read `session.me` and `session.workspace`.
 */
import { api, currentWorkspace, setWorkspace } from '$lib/api';
import { clearDrafts } from '$lib/chat/drafts';
import type { AuthOptions, Me, PendingInvitation, Permission, Workspace } from './types';

class Session {
  me = $state<Me | null>(null);
  workspaces = $state<Workspace[]>([]);
  workspaceId = $state<string | null>(currentWorkspace());
  /** The workspace the server remembers as the last one chosen (PUT /me/workspace). */
  private lastWorkspaceId: string | null = null;
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
    const { workspaces, lastWorkspaceId } = await api.get<{ workspaces: Workspace[]; lastWorkspaceId: string | null }>('/workspaces');
    this.workspaces = workspaces;
    this.lastWorkspaceId = lastWorkspaceId;
    // Not essential to any screen: a failure leaves the banner out.
    this.invitations = await api
      .get<{ invitations: PendingInvitation[] }>('/workspaces/invitations/mine')
      .then((body) => body.invitations)
      .catch(() => []);
    // The last choice, made on any device (the server keeps it), else this browser's, else the personal one.
    const remembered = workspaces.find((w) => w.id === lastWorkspaceId) ?? workspaces.find((w) => w.id === currentWorkspace());
    this.choose((remembered ?? workspaces.find((w) => w.personal) ?? workspaces[0])?.id ?? null);
  }

  /** The workspace every call runs in from now on; `remember` also keeps it for the next sign-in on any device. */
  choose(id: string | null, options: { remember?: boolean } = {}): void {
    setWorkspace(id);
    this.workspaceId = id;
    if (options.remember && id && id !== this.lastWorkspaceId) {
      this.lastWorkspaceId = id;
      // A preference: if it fails, this browser still remembers it.
      void api.put('/me/workspace', { workspaceId: id }, { redirectOn401: false }).catch(() => undefined);
    }
  }

  /**
   * The id of another of the caller's workspaces where GET `path` finds the resource (a link
   * to a conversation or agent of a workspace other than the current one), or null. Asks only
   * the caller's own workspaces, so it reveals nothing the server would not show them anyway.
   */
  async findWorkspaceOf(path: string): Promise<Workspace | null> {
    for (const workspace of this.workspaces) {
      if (workspace.id === this.workspaceId) continue;
      try {
        await api.get(path, { headers: { 'x-workspace-id': workspace.id }, redirectOn401: false });
        return workspace;
      } catch {
        // not there (404) or not allowed: try the next
      }
    }
    return null;
  }

  /** Signing out: forget the person and what they typed but did not send. */
  clear(): void {
    clearDrafts();
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

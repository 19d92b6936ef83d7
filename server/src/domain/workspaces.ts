/** Workspaces: the roles a member can hold (what each may do is in modules/workspaces/permissions.ts). */

export const WORKSPACE_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/** Roles an invitation can grant: ownership is never handed out by invitation. */
export type InvitedRole = Exclude<WorkspaceRole, 'owner'>;

/** Roles workspace single sign-on may give an account it provisions. */
export const SSO_DEFAULT_ROLES = ['member', 'viewer'] as const;
export type SsoDefaultRole = (typeof SSO_DEFAULT_ROLES)[number];

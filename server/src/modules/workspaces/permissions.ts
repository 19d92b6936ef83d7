/**
 * What each workspace role may do: the one table every service consults. Roles are
 * ordered; each includes what the ones below it may do, plus the actions listed here.
 */
import { WORKSPACE_ROLES, type WorkspaceRole } from '../../domain/workspaces.js';

/** The roles, most powerful first (the domain's list: one definition). */
export const ROLES: readonly WorkspaceRole[] = WORKSPACE_ROLES;

export const PERMISSIONS = {
  /** See the workspace, its agents, and chat with them (own conversations only). */
  'workspace.read': ['owner', 'admin', 'member', 'viewer'],
  'chat.use': ['owner', 'admin', 'member', 'viewer'],
  'agents.read': ['owner', 'admin', 'member', 'viewer'],
  'providers.read': ['owner', 'admin', 'member', 'viewer'],
  /** The member list: names, roles, joining dates. */
  'members.read': ['owner', 'admin', 'member', 'viewer'],
  'knowledge.read': ['owner', 'admin', 'member', 'viewer'],
  /**
   * Members' email addresses: people who work together reach each other. Viewers are
   * read-only guests (a client, an auditor): they see who is there, not how to mail them.
   */
  'members.emails': ['owner', 'admin', 'member'],
  /** Build and change agents. */
  'agents.write': ['owner', 'admin', 'member'],
  'knowledge.write': ['owner', 'admin', 'member'],
  /** Credentials, people, budgets. */
  'providers.write': ['owner', 'admin'],
  'members.write': ['owner', 'admin'],
  'workspace.write': ['owner', 'admin'],
  /**
   * The single sign-on configuration (issuer, client id, secret hint, provisioning): read
   * by those who may change it. Members sign in through the start link they are given.
   */
  'sso.read': ['owner', 'admin'],
  /** Each member's tokens and answers this month (the workspace total is workspace.read). */
  'usage.members': ['owner', 'admin'],
  /** Make or unmake owners and admins. */
  'members.promote': ['owner'],
} as const satisfies Record<string, readonly WorkspaceRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: WorkspaceRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly WorkspaceRole[]).includes(role);
}

/** Every permission name, in table order. */
export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as [Permission, ...Permission[]];

/** What `role` may do, in table order: sent with the workspace view so clients offer only what will work. */
export function permissionsOf(role: WorkspaceRole): Permission[] {
  return PERMISSION_NAMES.filter((permission) => can(role, permission));
}

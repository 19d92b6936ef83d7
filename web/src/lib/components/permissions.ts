/**
 * What the caller's workspace role allows, mirrored from the server's table
 * (server/src/modules/workspaces/permissions.ts) so screens only offer what will work.
 * The server still decides: a 403 permission_denied is shown like any other error.
 */
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

const WRITERS = {
  'agents.write': ['owner', 'admin', 'member'],
  'knowledge.write': ['owner', 'admin', 'member'],
  'providers.write': ['owner', 'admin'],
  'members.write': ['owner', 'admin'],
  'workspace.write': ['owner', 'admin'],
  'members.promote': ['owner'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof WRITERS;

export function can(role: string | null | undefined, permission: Permission): boolean {
  return role !== null && role !== undefined && (WRITERS[permission] as readonly Role[]).includes(role as Role);
}

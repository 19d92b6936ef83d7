/**
 * Who is calling: the principal every credential (browser session, API key, access
 * token) resolves to, and the scopes a key or token can hold. Below every layer, so the
 * platform, HTTP and module code can all name it.
 */

export const SCOPES = [
  'profile:read',
  'workspaces:read',
  'workspaces:write',
  'providers:read',
  'providers:write',
  'agents:read',
  'agents:write',
  /**
   * Run agents through the OpenAI-compatible API (/v1): list them as models and ask them.
   * Narrower than conversations:write (no stored conversations, read or written) and than
   * agents:read (no configurations, system prompts included): what to give a third-party tool.
   */
  'agents:invoke',
  'conversations:read',
  'conversations:write',
  'knowledge:read',
  'knowledge:write',
  'admin:write',
] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  kind: 'session' | 'api_key' | 'jwt';
  userId: string;
  /** Scopes of a key or token; sessions hold all of their user's. */
  scopes: ReadonlySet<string> | 'all';
  sessionId?: string;
  apiKeyId?: string;
  /** IP ranges the credential may be used from (an API key's, carried into its tokens); absent or empty: anywhere. */
  allowedCidrs?: readonly string[];
}

/** A browser session's live state (in the store under the token's hash). */
export interface SessionState {
  id: string;
  userId: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

/**
 * A workspace's own single sign-on provider (OpenID Connect): issuer, client id and an
 * envelope-encrypted client secret (workspace key), set by owners and admins. People
 * start at `/api/v1/auth/oidc/start?workspace=<id>`; see modules/oidc/service.ts for
 * what such a provider may and may not do.
 */
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { maskSecret } from '../../platform/crypto/tokens.js';
import type { Db } from '../../platform/db/database.js';
import type { OidcProviderSettings } from '../oidc/service.js';
import { addMember } from './repo.js';
import { deleteWorkspaceSso, findWorkspaceSso, hasWorkspaceSso, insertWorkspaceSso, updateWorkspaceSso } from './sso-repo.js';
import type { WorkspaceContext, WorkspaceService } from './service.js';

export interface SsoInput {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  jitProvisioning: boolean;
  defaultRole: 'member' | 'viewer';
}

export interface SsoView {
  issuer: string;
  clientId: string;
  clientSecretHint: string;
  jitProvisioning: boolean;
  defaultRole: 'member' | 'viewer';
  startUrl: string;
}

const binding = (workspaceId: string) => ({ table: 'workspace_sso', column: 'client_secret', rowId: workspaceId });

/** https, or http on loopback (a provider on the same machine); no credentials, query or fragment. */
export function checkIssuer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AppError('validation_failed', 'issuer must be the provider’s issuer URL.', [{ path: 'issuer', message: 'not a URL' }]);
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || url.username || url.password || url.search || url.hash) {
    throw new AppError('validation_failed', 'issuer must be an https URL without credentials, query or fragment.', [{ path: 'issuer', message: 'not allowed' }]);
  }
  return value;
}

export class WorkspaceSsoService {
  constructor(
    private readonly db: Db,
    private readonly encryptor: Encryptor,
    private readonly clock: Clock,
    private readonly workspaces: WorkspaceService,
    private readonly publicUrl: string,
  ) {}

  async get(context: WorkspaceContext): Promise<SsoView | null> {
    this.workspaces.require(context, 'sso.read');
    const row = await findWorkspaceSso(this.db, context.workspaceId);
    if (!row) return null;
    return {
      issuer: row.issuer,
      clientId: row.client_id,
      clientSecretHint: row.client_secret_hint,
      jitProvisioning: row.jit_provisioning,
      defaultRole: row.default_role,
      startUrl: `${this.publicUrl}/api/v1/auth/oidc/start?workspace=${context.workspaceId}`,
    };
  }

  async put(context: WorkspaceContext, input: SsoInput): Promise<SsoView> {
    this.workspaces.require(context, 'workspace.write');
    if (context.workspace.personal_owner_id) throw new AppError('conflict', 'Personal workspaces have no single sign-on; create a shared workspace.');
    checkIssuer(input.issuer);
    const existing = await hasWorkspaceSso(this.db, context.workspaceId);
    if (!existing && !input.clientSecret) throw new AppError('validation_failed', 'clientSecret is required when setting up single sign-on.', [{ path: 'clientSecret', message: 'required' }]);
    const now = this.clock.now();
    const secret = input.clientSecret
      ? { client_secret: await this.encryptor.encrypt({ scope: 'workspace', id: context.workspaceId }, binding(context.workspaceId), input.clientSecret), client_secret_hint: maskSecret(input.clientSecret) }
      : {};
    const fields = { issuer: input.issuer, client_id: input.clientId, jit_provisioning: input.jitProvisioning, default_role: input.defaultRole, updated_at: now, ...secret };
    if (existing) await updateWorkspaceSso(this.db, context.workspaceId, fields);
    else await insertWorkspaceSso(this.db, { workspace_id: context.workspaceId, created_at: now, client_secret: Buffer.alloc(0), client_secret_hint: '', ...fields });
    return (await this.get(context))!;
  }

  async delete(context: WorkspaceContext): Promise<void> {
    this.workspaces.require(context, 'workspace.write');
    if (!(await deleteWorkspaceSso(this.db, context.workspaceId))) throw new AppError('not_found', 'This workspace has no single sign-on.');
  }

  /** The provider settings for a sign-in flow, secret decrypted; null when none. */
  async provider(workspaceId: string): Promise<OidcProviderSettings | null> {
    const row = await findWorkspaceSso(this.db, workspaceId);
    if (!row) return null;
    return {
      issuer: row.issuer,
      clientId: row.client_id,
      clientSecret: await this.encryptor.decryptText(binding(workspaceId), row.client_secret),
      jitProvisioning: row.jit_provisioning,
      workspace: { id: workspaceId, defaultRole: row.default_role },
    };
  }

  addMember(workspaceId: string, userId: string, role: 'member' | 'viewer'): Promise<void> {
    return addMember(this.db, workspaceId, userId, role, this.clock.now());
  }
}

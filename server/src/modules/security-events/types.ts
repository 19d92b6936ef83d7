/**
 * The security-event catalog: every event type, its detail shape and its severity.
 * The catalog's `fields` list is also the redaction allow-list: a detail key not listed
 * for its type is dropped before the event is stored or logged (ASVS 16.2.5), so a
 * caller that passes a password or token by mistake leaks nothing.
 */

export type Severity = 'info' | 'warning' | 'critical';

/** Detail shapes by event type. Keep them to ids, codes, counts and short labels. */
export interface SecurityEventDetails {
  'auth.sign_in_succeeded': { sessionId?: string };
  'auth.sign_in_failed': { factor: 'password' | 'second_factor'; locked: boolean; account?: string };
  'auth.account_locked': Record<never, never>;
  'auth.account_unlocked': { by: string };
  /** An administrator disabled or enabled the account, or reset its second factor (modules/users/admin-service.ts). */
  'auth.account_disabled': { by: string };
  'auth.account_enabled': { by: string };
  'auth.mfa_reset': { by: string };
  /** The first administrator was created through the setup link (modules/auth/setup.ts). */
  'auth.first_admin_created': Record<never, never>;
  'auth.suspicious_sign_in': { score: number; reasons: string[] };
  'auth.sign_in_disowned': Record<never, never>;
  'auth.mfa_enabled': Record<never, never>;
  'auth.mfa_disabled': Record<never, never>;
  'auth.recovery_codes_regenerated': Record<never, never>;
  'auth.password_reset_requested': Record<never, never>;
  /** A reset completed (the token was used and a new password set). */
  'auth.password_reset': Record<never, never>;
  'auth.password_changed': Record<never, never>;
  'auth.oidc_unverified_email': { issuer: string; subject: string };
  'auth.oidc_identity_linked': { issuer: string };
  'auth.refresh_token_reused': { familyId: string };
  'session.revoked': { reason: string; sessionId?: string; count?: number };
  'api_key.created': { keyId: string; name: string; scopes: string[] };
  'api_key.revoked': { keyId: string; by?: 'owner' | 'monitor' };
  'api_key.new_ip': { keyId: string; previousIp: string };
  'http.rate_limited': { code: string; policy?: string; method: string; route: string };
  'http.csrf_refused': { method: string; route: string; origin?: string };
  'http.cors_refused': { origin: string; method: string; route: string };
  'webhook.signature_failed': { agentId: string; reason: string };
  'knowledge.malware_refused': { workspaceId: string; knowledgeBaseId: string; reason: string; scanner: string; sha256: string; size: number };
  'knowledge.document_quarantined': { documentId: string; workspaceId: string; reason: string };
  'crypto.decrypt_failed': { code: string; table: string; column: string; rowId: string; dataKeyId?: string };
  'access.permission_denied': { workspaceId: string; role: string; permission: string };
  'admin.action': { action: string; target?: string };
  /** An automatic response of the monitor (see modules/monitoring/responses.ts). */
  'monitor.response': { rule: string; action: string; key: string; minutes?: number };
}

export type SecurityEventType = keyof SecurityEventDetails;

interface CatalogEntry<K extends SecurityEventType> {
  /** What people see on their account and admin screens (sentence case, no final period). */
  label: string;
  severity: Severity;
  fields: readonly (keyof SecurityEventDetails[K] & string)[];
}

export const EVENT_CATALOG: { readonly [K in SecurityEventType]: CatalogEntry<K> } = {
  'auth.sign_in_succeeded': { label: 'Signed in', severity: 'info', fields: ['sessionId'] },
  'auth.sign_in_failed': { label: 'Failed sign-in', severity: 'warning', fields: ['factor', 'locked', 'account'] },
  'auth.account_locked': { label: 'Account locked after failed sign-ins', severity: 'warning', fields: [] },
  'auth.account_unlocked': { label: 'Account unlocked', severity: 'info', fields: ['by'] },
  'auth.account_disabled': { label: 'Account disabled by an administrator', severity: 'warning', fields: ['by'] },
  'auth.account_enabled': { label: 'Account enabled by an administrator', severity: 'info', fields: ['by'] },
  'auth.mfa_reset': { label: 'Two-factor authentication reset by an administrator', severity: 'warning', fields: ['by'] },
  'auth.first_admin_created': { label: 'First administrator created', severity: 'warning', fields: [] },
  'auth.suspicious_sign_in': { label: 'Unusual sign-in', severity: 'warning', fields: ['score', 'reasons'] },
  'auth.sign_in_disowned': { label: 'Sign-in reported as not you', severity: 'critical', fields: [] },
  'auth.mfa_enabled': { label: 'Two-factor authentication turned on', severity: 'info', fields: [] },
  'auth.mfa_disabled': { label: 'Two-factor authentication turned off', severity: 'warning', fields: [] },
  'auth.recovery_codes_regenerated': { label: 'Recovery codes replaced', severity: 'info', fields: [] },
  'auth.password_reset_requested': { label: 'Password reset requested', severity: 'info', fields: [] },
  'auth.password_reset': { label: 'Password reset', severity: 'info', fields: [] },
  'auth.password_changed': { label: 'Password changed', severity: 'info', fields: [] },
  'auth.oidc_unverified_email': { label: 'Single sign-on refused: email not verified', severity: 'warning', fields: ['issuer', 'subject'] },
  'auth.oidc_identity_linked': { label: 'Single sign-on identity linked', severity: 'info', fields: ['issuer'] },
  'auth.refresh_token_reused': { label: 'Reused refresh token: all its tokens revoked', severity: 'critical', fields: ['familyId'] },
  'session.revoked': { label: 'Session ended', severity: 'info', fields: ['reason', 'sessionId', 'count'] },
  'api_key.created': { label: 'API key created', severity: 'info', fields: ['keyId', 'name', 'scopes'] },
  'api_key.revoked': { label: 'API key revoked', severity: 'info', fields: ['keyId', 'by'] },
  'api_key.new_ip': { label: 'API key used from a new address', severity: 'info', fields: ['keyId', 'previousIp'] },
  'http.rate_limited': { label: 'Too many requests refused', severity: 'warning', fields: ['code', 'policy', 'method', 'route'] },
  'http.csrf_refused': { label: 'Cross-site request refused', severity: 'warning', fields: ['method', 'route', 'origin'] },
  'http.cors_refused': { label: 'Cross-origin request refused', severity: 'info', fields: ['origin', 'method', 'route'] },
  'webhook.signature_failed': { label: 'Webhook with a bad signature refused', severity: 'warning', fields: ['agentId', 'reason'] },
  'knowledge.malware_refused': { label: 'Upload refused: malware found', severity: 'critical', fields: ['workspaceId', 'knowledgeBaseId', 'reason', 'scanner', 'sha256', 'size'] },
  'knowledge.document_quarantined': { label: 'Document quarantined', severity: 'critical', fields: ['documentId', 'workspaceId', 'reason'] },
  'crypto.decrypt_failed': { label: 'Stored data could not be decrypted', severity: 'critical', fields: ['code', 'table', 'column', 'rowId', 'dataKeyId'] },
  'access.permission_denied': { label: 'Action refused: missing permission', severity: 'warning', fields: ['workspaceId', 'role', 'permission'] },
  'admin.action': { label: 'Administrator action', severity: 'info', fields: ['action', 'target'] },
  'monitor.response': { label: 'Automatic protective action', severity: 'critical', fields: ['rule', 'action', 'key', 'minutes'] },
};

export const SECURITY_EVENT_TYPES = Object.keys(EVENT_CATALOG) as [SecurityEventType, ...SecurityEventType[]];

/**
 * Inputs the detection rules read but that are never stored or logged: the account key
 * and the truncated keyed password prefix of a failed sign-in (see monitoring/password-prefix.ts).
 */
export interface DetectionSignals {
  account?: string;
  passwordPrefix?: string;
}

interface EventBase {
  /** The account the event is about (the actor for most events). */
  userId?: string | null;
  /** The API key that acted, when the request used one. */
  apiKeyId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  signals?: DetectionSignals;
}

type DetailsField<K extends SecurityEventType> = Record<never, never> extends SecurityEventDetails[K] ? { details?: SecurityEventDetails[K] } : { details: SecurityEventDetails[K] };

/** What callers hand to `SecurityEvents.record`: a type and its own detail shape. */
export type SecurityEventInput = { [K in SecurityEventType]: EventBase & { type: K } & DetailsField<K> }[SecurityEventType];

/** An event after redaction, as stored and logged. */
export interface RecordedSecurityEvent {
  id: string;
  type: SecurityEventType;
  severity: Severity;
  userId: string | null;
  apiKeyId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  at: Date;
}

/**
 * Who acts, for the audit log. Routes build an `Actor` from the request (request.ts,
 * the one place that does) and pass it to the service method that makes the change;
 * the service writes the entry in the change's transaction.
 */
import type { AuditActorType } from '../../domain/audit.js';

export type ActorType = AuditActorType;

/** The actor fields of an audit entry. */
export interface AuditActor {
  type: ActorType;
  /** The person who acted (also for an API key: its owner); null for the system. */
  userId: string | null;
  keyId?: string | null | undefined;
  ip?: string | null | undefined;
}

/** An actor and the request it acted in. */
export interface Actor extends AuditActor {
  requestId?: string | null | undefined;
  /** For security events the change raises (not stored in the audit entry). */
  userAgent?: string | null | undefined;
}

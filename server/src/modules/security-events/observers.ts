/**
 * Events raised by shared services that are built before the app (the Encryptor) or
 * that know nothing of security events (SessionService): their methods are wrapped on
 * the instance the app uses, once, instead of threading a sink through their constructors.
 */
import type { Encryptor } from '../../platform/crypto/envelope.js';
import { CryptoError } from '../../platform/crypto/crypto-error.js';
import type { SessionService } from '../sessions/service.js';
import type { SecurityEventSink } from './service.js';

const watched = new WeakSet<object>();

/** Every failed decryption becomes a `crypto.decrypt_failed` event (codes and ids, never data). */
export function watchDecryption(encryptor: Encryptor, events: SecurityEventSink): void {
  if (watched.has(encryptor)) return;
  watched.add(encryptor);
  const decrypt = encryptor.decrypt.bind(encryptor);
  encryptor.decrypt = async (binding, stored) => {
    try {
      return await decrypt(binding, stored);
    } catch (error) {
      if (error instanceof CryptoError) {
        await events.record({ type: 'crypto.decrypt_failed', details: { code: error.code, table: binding.table, column: binding.column, rowId: binding.rowId } });
      }
      throw error;
    }
  };
}

/** Session revocations (sign-out, "sign out everywhere", after a reset) become `session.revoked` events. */
export function watchSessionRevocations(sessions: SessionService, events: SecurityEventSink): void {
  if (watched.has(sessions)) return;
  watched.add(sessions);
  const revoke = sessions.revoke.bind(sessions);
  const revokeAll = sessions.revokeAll.bind(sessions);
  sessions.revoke = async (userId, sessionId, reason, origin) => {
    const revoked = await revoke(userId, sessionId, reason, origin);
    if (revoked) await events.record({ ...origin, type: 'session.revoked', userId, details: { reason, sessionId } });
    return revoked;
  };
  sessions.revokeAll = async (userId, reason, exceptId, origin) => {
    const count = await revokeAll(userId, reason, exceptId, origin);
    if (count > 0) await events.record({ ...origin, type: 'session.revoked', userId, details: { reason, count } });
    return count;
  };
}

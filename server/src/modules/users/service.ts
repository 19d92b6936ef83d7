/**
 * Accounts: the one way other modules read or change a user (they never query the
 * `users` table). Rules about passwords, TOTP and sign-in live in modules/auth; this
 * service keeps the account rows consistent.
 */
import type { Db } from '../../platform/db/database.js';
import * as repo from './repo.js';

export type { UserRow } from './repo.js';
export type NewUser = Parameters<typeof repo.insertUser>[1];

export class UserService {
  constructor(private readonly db: Db) {}

  byId(id: string): Promise<repo.UserRow | undefined> {
    return repo.findUserById(this.db, id);
  }

  /** By normalised email (see users/email.ts). */
  byEmail(email: string): Promise<repo.UserRow | undefined> {
    return repo.findUserByEmail(this.db, email);
  }

  /** Creates the account unless the email is taken; returns whether it did. `trx`: inside the caller's transaction. */
  create(user: NewUser, trx: Db = this.db): Promise<boolean> {
    return repo.insertUser(trx, user);
  }

  /** `trx`: read inside the caller's transaction (e.g. under its lock). */
  adminExists(trx: Db = this.db): Promise<boolean> {
    return repo.adminExists(trx);
  }

  /** `changed`: a new password (not a rehash), which also clears a required reset. */
  setPasswordHash(id: string, passwordHash: string, now: Date, changed: boolean): Promise<void> {
    return repo.updatePasswordHash(this.db, id, passwordHash, now, changed);
  }

  markEmailVerified(id: string, now: Date): Promise<void> {
    return repo.markEmailVerified(this.db, id, now);
  }

  requirePasswordReset(id: string, now: Date): Promise<void> {
    return repo.setPasswordResetRequired(this.db, id, now);
  }

  setPendingTotpSecret(id: string, sealedSecret: Buffer, now: Date): Promise<void> {
    return repo.setPendingTotpSecret(this.db, id, sealedSecret, now);
  }

  /** Turns TOTP on once (false when it already was, or no secret is pending). */
  enableTotp(id: string, step: number, now: Date): Promise<boolean> {
    return repo.enableTotp(this.db, id, step, now);
  }

  /** `trx`: inside the caller's transaction (an administrator's reset, with its audit entry). */
  disableTotp(id: string, now: Date, trx: Db = this.db): Promise<void> {
    return repo.disableTotp(trx, id, now);
  }

  /** Accepts a TOTP step once, atomically across API copies (repo.claimTotpStep). */
  claimTotpStep(id: string, step: number): Promise<boolean> {
    return repo.claimTotpStep(this.db, id, step);
  }

  count(): Promise<number> {
    return repo.countUsers(this.db);
  }
}

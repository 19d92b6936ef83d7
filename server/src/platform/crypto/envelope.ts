/**
 * Envelope encryption: records are sealed with AES-256-GCM under a per-owner data key
 * (the instance, a workspace or a user); data keys are stored wrapped by the active
 * master key. Each ciphertext carries a version byte and its data key id, and is bound
 * to its table, column and row id, so a ciphertext copied to another row fails.
 */
import { hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/database.js';
import { KEY_BYTES, open, seal } from './aead.js';
import { CryptoError, type CryptoErrorCode } from './crypto-error.js';
import { deleteDataKeyByOwner, findDataKeyById, findDataKeyByOwner, insertDataKey, oneDataKeyPerMasterKey, type DataKeyRow, type KeyScope } from './data-key-repo.js';
import type { Keyring } from './keyring.js';

export const CIPHERTEXT_VERSION = 1;
const RECORD_HEADER_BYTES = 1 + 16; // version, data key id (uuid)
const WRAP_HEADER_BYTES = 1; // version

export type KeyOwner = { scope: 'instance' } | { scope: Exclude<KeyScope, 'instance'>; id: string };

/** Where a ciphertext lives; it only decrypts there. */
export interface Binding {
  table: string;
  column: string;
  rowId: string;
}

export interface CryptoSecurityEvent {
  type: 'crypto.decrypt_failed';
  code: CryptoErrorCode;
  table: string;
  column: string;
  rowId: string;
  dataKeyId?: string;
}

/** Master keys that wrap data keys in the database but cannot unwrap them in this process. */
export interface MasterKeyReport {
  /** Not configured here: records under them fail with `unknown_master_key`. */
  missing: string[];
  /** Configured under that id with other key material: one of their data keys does not unwrap. */
  mismatched: string[];
}

export interface EncryptorOptions {
  /** Receives failed decryptions (never the data); the security-events module records them. */
  onSecurityEvent?: (event: CryptoSecurityEvent) => void;
  /** How long unwrapped data keys stay in memory; bounds how long a shredded key lingers in other processes. */
  cacheTtlMs?: number;
  now?: () => number;
}

function ownerId(owner: KeyOwner): string {
  return owner.scope === 'instance' ? '' : owner.id;
}

/** Associated data of a wrapped data key: binds it to its row and its master key. */
export function wrapBinding(row: Pick<DataKeyRow, 'id' | 'scope' | 'owner_id'>, masterKeyId: string): Buffer {
  return Buffer.from(`bastion/data-key\0${row.id}\0${row.scope}\0${row.owner_id}\0${masterKeyId}`, 'utf8');
}

function recordBinding(binding: Binding): Buffer {
  return Buffer.from(`bastion/record\0${binding.table}\0${binding.column}\0${binding.rowId}`, 'utf8');
}

export function wrapDataKey(masterKey: Buffer, masterKeyId: string, row: Pick<DataKeyRow, 'id' | 'scope' | 'owner_id'>, dataKey: Buffer): Buffer {
  return seal(masterKey, Buffer.from([CIPHERTEXT_VERSION]), dataKey, wrapBinding(row, masterKeyId));
}

export function unwrapDataKey(keyring: Keyring, row: DataKeyRow): Buffer {
  const master = keyring.get(row.master_key_id);
  if (!master) throw new CryptoError('unknown_master_key');
  if (row.wrapped_key[0] !== CIPHERTEXT_VERSION) throw new CryptoError('unsupported_version');
  const key = open(master.key, row.wrapped_key, WRAP_HEADER_BYTES, wrapBinding(row, master.id));
  if (key.length !== KEY_BYTES) throw new CryptoError('malformed_ciphertext');
  return key;
}

export class Encryptor {
  private readonly cache = new Map<string, { key: Buffer; expiresAt: number }>();
  /** Which data key each owner encrypts under, for as long as unwrapped keys are kept: encrypting asks the database once per owner and TTL, not once per record. */
  private readonly owners = new Map<string, { id: string; expiresAt: number }>();
  /** Lookups in flight, shared by concurrent first uses of one owner. */
  private readonly ownerLookups = new Map<string, Promise<{ id: string; key: Buffer }>>();
  private readonly now: () => number;
  private readonly cacheTtlMs: number;

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly options: EncryptorOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
  }

  /** Encrypts for `owner`, bound to `binding`. Creates the owner's data key on first use. */
  async encrypt(owner: KeyOwner, binding: Binding, plaintext: string | Buffer): Promise<Buffer> {
    const { id, key } = await this.ownerKey(owner);
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    header[0] = CIPHERTEXT_VERSION;
    Buffer.from(id.replaceAll('-', ''), 'hex').copy(header, 1);
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return seal(key, header, data, recordBinding(binding));
  }

  /**
   * A key for another use than sealing (`purpose`: e.g. a blind index), derived from the
   * owner's data key with HKDF-SHA-256: it lives exactly as long as that key, so shredding
   * the owner's data key makes it underivable too. Creates the data key on first use.
   */
  async deriveKey(owner: KeyOwner, purpose: string): Promise<Buffer> {
    const { id, key } = await this.ownerKey(owner);
    return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `bastion/derived\0${purpose}\0${id}`, KEY_BYTES));
  }

  /**
   * Decrypts a ciphertext stored at `binding`; failures throw CryptoError and raise a
   * security event. Takes a Buffer or a plain Uint8Array (PGlite returns bytea as one).
   */
  async decrypt(binding: Binding, stored: Buffer | Uint8Array): Promise<Buffer> {
    const blob = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    let dataKeyId: string | undefined;
    try {
      if (blob.length < RECORD_HEADER_BYTES) throw new CryptoError('malformed_ciphertext');
      if (blob[0] !== CIPHERTEXT_VERSION) throw new CryptoError('unsupported_version');
      dataKeyId = uuidFromBytes(blob.subarray(1, RECORD_HEADER_BYTES));
      const key = await this.keyById(dataKeyId);
      return open(key, blob, RECORD_HEADER_BYTES, recordBinding(binding));
    } catch (error) {
      if (error instanceof CryptoError) {
        this.options.onSecurityEvent?.({ type: 'crypto.decrypt_failed', code: error.code, ...binding, ...(dataKeyId ? { dataKeyId } : {}) });
      }
      throw error;
    }
  }

  async decryptText(binding: Binding, blob: Buffer | Uint8Array): Promise<string> {
    return (await this.decrypt(binding, blob)).toString('utf8');
  }

  /**
   * Tests each master key that wraps a data key: configured here, and able to unwrap one of
   * its data keys. One query and one unwrap per master key id (the readiness probe asks).
   */
  async checkMasterKeys(): Promise<MasterKeyReport> {
    const report: MasterKeyReport = { missing: [], mismatched: [] };
    for (const row of await oneDataKeyPerMasterKey(this.db)) {
      if (!this.keyring.get(row.master_key_id)) {
        report.missing.push(row.master_key_id);
        continue;
      }
      try {
        unwrapDataKey(this.keyring, row);
      } catch (error) {
        if (!(error instanceof CryptoError)) throw error;
        report.mismatched.push(row.master_key_id);
      }
    }
    return report;
  }

  /**
   * Crypto-shredding: deletes the owner's data key, making everything encrypted for
   * the owner unreadable. Returns whether a key existed.
   */
  async shred(owner: KeyOwner): Promise<boolean> {
    const id = await deleteDataKeyByOwner(this.db, owner.scope, ownerId(owner));
    this.owners.delete(ownerKeyOf(owner));
    this.ownerLookups.delete(ownerKeyOf(owner)); // a lookup in flight must not cache the shredded key
    if (id) this.cache.delete(id);
    return id !== undefined;
  }

  private async ownerKey(owner: KeyOwner): Promise<{ id: string; key: Buffer }> {
    const name = ownerKeyOf(owner);
    const known = this.owners.get(name);
    if (known && known.expiresAt > this.now()) {
      const cached = this.cache.get(known.id);
      if (cached && cached.expiresAt > this.now()) return { id: known.id, key: cached.key };
    }
    const inFlight = this.ownerLookups.get(name);
    if (inFlight) return inFlight;
    const lookup = this.lookUpOwnerKey(owner).then((found) => {
      if (this.ownerLookups.get(name) === lookup && this.cacheTtlMs > 0) {
        if (this.owners.size >= 10_000) this.owners.clear();
        this.owners.set(name, { id: found.id, expiresAt: this.now() + this.cacheTtlMs });
      }
      return found;
    });
    this.ownerLookups.set(name, lookup);
    try {
      return await lookup;
    } finally {
      if (this.ownerLookups.get(name) === lookup) this.ownerLookups.delete(name);
    }
  }

  private async lookUpOwnerKey(owner: KeyOwner): Promise<{ id: string; key: Buffer }> {
    const existing = await findDataKeyByOwner(this.db, owner.scope, ownerId(owner));
    if (existing) return { id: existing.id, key: this.remember(existing.id, () => unwrapDataKey(this.keyring, existing)) };
    const key = randomBytes(KEY_BYTES);
    const row = { id: randomUUID(), scope: owner.scope, owner_id: ownerId(owner) };
    const active = this.keyring.active;
    const wrapped = wrapDataKey(active.key, active.id, row, key);
    if (await insertDataKey(this.db, { ...row, master_key_id: active.id, wrapped_key: wrapped })) {
      return { id: row.id, key: this.remember(row.id, () => key) };
    }
    return this.lookUpOwnerKey(owner); // another writer created it first: use theirs
  }

  private async keyById(id: string): Promise<Buffer> {
    const cached = this.cache.get(id);
    if (cached && cached.expiresAt > this.now()) return cached.key;
    const row = await findDataKeyById(this.db, id);
    if (!row) throw new CryptoError('unknown_data_key');
    return this.remember(id, () => unwrapDataKey(this.keyring, row));
  }

  private remember(id: string, load: () => Buffer): Buffer {
    const cached = this.cache.get(id);
    if (cached && cached.expiresAt > this.now()) return cached.key;
    const key = load();
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(id, { key, expiresAt: this.now() + this.cacheTtlMs });
    return key;
  }
}

function ownerKeyOf(owner: KeyOwner): string {
  return `${owner.scope}:${ownerId(owner)}`;
}

function uuidFromBytes(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

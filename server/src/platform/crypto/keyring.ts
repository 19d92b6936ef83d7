/**
 * The keyring: master keys (key-encryption keys) by id, one active for new wraps.
 * Configured keys come from MASTER_KEYS / MASTER_KEYS_FILE; the embedded default
 * generates a key file under DATA_DIR (mode 0600) on first start.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { formatMasterKeys, generateMasterKey, parseMasterKeys, type MasterKey, type MasterKeySet } from './master-keys.js';

export class Keyring {
  private readonly byId: Map<string, MasterKey>;

  constructor(readonly set: MasterKeySet) {
    this.byId = new Map(set.keys.map((k) => [k.id, k]));
    if (!this.byId.has(set.activeId)) throw new Error('active master key is not in the keyring');
  }

  get active(): MasterKey {
    return this.byId.get(this.set.activeId)!;
  }

  get(id: string): MasterKey | undefined {
    return this.byId.get(id);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }
}

/** Where the keys of this deployment live, so `bastion keys rotate` can edit them. */
export type KeySource = { kind: 'env' } | { kind: 'file'; path: string; generated: boolean };

export const EMBEDDED_KEY_FILE = 'master-keys';

type KeyringConfig = Pick<Config, 'MASTER_KEYS' | 'MASTER_KEYS_FILE' | 'DATA_DIR'>;

/** Loads the configured keyring, or creates the embedded key file on first start. */
export function loadKeyring(config: KeyringConfig, logger: Logger): { keyring: Keyring; source: KeySource } {
  if (config.MASTER_KEYS) {
    const source: KeySource = config.MASTER_KEYS_FILE ? { kind: 'file', path: path.resolve(config.MASTER_KEYS_FILE), generated: false } : { kind: 'env' };
    return { keyring: new Keyring(config.MASTER_KEYS), source };
  }
  const file = path.join(config.DATA_DIR, EMBEDDED_KEY_FILE);
  if (!fs.existsSync(file)) {
    const key = generateMasterKey();
    writeKeyFile(file, { keys: [key], activeId: key.id });
    logger.warn({ file }, 'generated a master key file for the embedded default; back it up with the data directory, or set MASTER_KEYS');
    return { keyring: new Keyring({ keys: [key], activeId: key.id }), source: { kind: 'file', path: file, generated: true } };
  }
  return { keyring: new Keyring(readKeyFile(file)), source: { kind: 'file', path: file, generated: false } };
}

export function readKeyFile(file: string): MasterKeySet {
  const problems: string[] = [];
  const set = parseMasterKeys(fs.readFileSync(file, 'utf8'), file, problems);
  if (!set) throw new Error(`Invalid master key file:\n  - ${problems.join('\n  - ')}`);
  return set;
}

/** Writes a key file atomically with mode 0600. */
export function writeKeyFile(file: string, set: MasterKeySet): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  const text = `# Bastion master keys: id:base64key, active one marked with *. Keep secret; back up.\n${formatMasterKeys(set, '\n')}\n`;
  fs.writeFileSync(temporary, text, { mode: 0o600 });
  fs.renameSync(temporary, file);
}

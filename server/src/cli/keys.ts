/**
 * `bastion keys …`: master key lifecycle. Keys held in a file (MASTER_KEYS_FILE or the
 * embedded DATA_DIR/master-keys) are edited in place; keys held in MASTER_KEYS are
 * printed for the operator to set, since a process cannot change its environment.
 */
import type { Config } from '../config/index.js';
import { withDatabase } from './database.js';
import { createLogger } from '../platform/log.js';
import { countKeysByMasterKey } from '../platform/crypto/data-key-repo.js';
import { loadKeyring, writeKeyFile, type KeySource } from '../platform/crypto/keyring.js';
import { formatMasterKeys, generateMasterKey, type MasterKeySet } from '../platform/crypto/master-keys.js';
import { assertRetirable, rewrapDataKeys } from '../platform/crypto/rotation.js';
import { Encryptor } from '../platform/crypto/envelope.js';
import { systemClock } from '../platform/clock.js';
import { SigningKeys } from '../modules/tokens/signing-keys.js';

export const KEYS_USAGE = `  keys generate    print a new random master key (id:base64)
  keys status      show the master keys and how many data keys each wraps
  keys rotate      add a new master key and make it active
  keys rewrap      re-wrap every data key to the active master key (online, resumable)
  keys retire ID   remove a master key that no data key uses any more
  keys rotate-jwt  start signing access tokens with a new key (old keys verify until their tokens expire)`;

export async function runKeys(config: Config, args: string[]): Promise<number> {
  const [sub, id] = args;
  if (sub === 'generate') {
    const key = generateMasterKey();
    console.log(`${key.id}:${key.key.toString('base64')}`);
    return 0;
  }
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const { keyring, source } = loadKeyring(config, logger);
  switch (sub) {
    case 'status':
      return withDatabase(config, async (database) => {
        const counts = await countKeysByMasterKey(database.db);
        console.log(`Master keys (${describe(source)}):`);
        for (const keyId of keyring.ids) {
          const count = counts.find((c) => c.master_key_id === keyId)?.count ?? 0;
          console.log(`  ${keyId === keyring.active.id ? '*' : ' '} ${keyId}  wraps ${count} data key(s)`);
        }
        for (const missing of counts.filter((c) => !keyring.get(c.master_key_id))) {
          console.log(`  ! ${missing.master_key_id}  NOT CONFIGURED, wraps ${missing.count} data key(s)`);
        }
        return 0;
      });
    case 'rotate': {
      const key = generateMasterKey();
      const next: MasterKeySet = { keys: [...keyring.set.keys, key], activeId: key.id };
      save(source, next, `Added master key "${key.id}" and made it active.`);
      console.log('Next: restart every Bastion process so all of them know the new key, then run `bastion keys rewrap`.');
      return 0;
    }
    case 'rewrap':
      return withDatabase(config, async (database) => {
        const result = await rewrapDataKeys(database.db, keyring, {
          onProgress: ({ done, total }) => console.log(`rewrap: ${done}/${total} data keys`),
        });
        console.log(`Re-wrapped ${result.rewrapped} data key(s) to "${keyring.active.id}" (${result.skipped} already done elsewhere).`);
        return 0;
      });
    case 'rotate-jwt':
      return withDatabase(config, async (database) => {
        const keys = new SigningKeys(database.db, new Encryptor(database.db, keyring), systemClock, config.JWT_ACCESS_TTL_SECONDS * 1000);
        const kid = await keys.rotate();
        console.log(`New JWT signing key "${kid}". Running servers switch to it within a minute; previous keys stay in /.well-known/jwks.json until their last tokens expire (${config.JWT_ACCESS_TTL_SECONDS} s).`);
        return 0;
      });
    case 'retire': {
      if (!id) {
        console.error('bastion keys retire: give the id of the key to retire');
        return 2;
      }
      return withDatabase(config, async (database) => {
        try {
          await assertRetirable(database.db, keyring, id);
        } catch (error) {
          console.error(`bastion keys retire: ${(error as Error).message}`);
          return 1;
        }
        const next: MasterKeySet = { keys: keyring.set.keys.filter((k) => k.id !== id), activeId: keyring.active.id };
        save(source, next, `Retired master key "${id}".`);
        return 0;
      });
    }
    default:
      console.error(`bastion keys: expected one of generate, status, rotate, rewrap, retire, rotate-jwt\n${KEYS_USAGE}`);
      return 2;
  }
}

function describe(source: KeySource): string {
  return source.kind === 'env' ? 'from MASTER_KEYS' : `from ${source.path}`;
}

function save(source: KeySource, set: MasterKeySet, done: string): void {
  if (source.kind === 'file') {
    writeKeyFile(source.path, set);
    console.log(`${done} Updated ${source.path}.`);
    return;
  }
  console.log(`${done} Set this value in every deployment (it is a secret):\nMASTER_KEYS=${formatMasterKeys(set)}`);
}

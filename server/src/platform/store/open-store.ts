import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

type StoreConfig = Pick<Config, 'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'REDIS_COMMAND_TIMEOUT_MS' | 'STORE_MEMORY_MAX_KEYS'>;

/** Redis when REDIS_URL is set, the in-memory store otherwise. */
export function openStore(config: StoreConfig, logger: Logger): Store {
  if (!config.REDIS_URL) return new MemoryStore({ maxKeys: config.STORE_MEMORY_MAX_KEYS });
  return new RedisStore({
    url: config.REDIS_URL,
    keyPrefix: config.REDIS_KEY_PREFIX,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    logger,
  });
}

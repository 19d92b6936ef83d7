/**
 * Every environment variable Bastion reads, in documentation order: the groups in
 * `groups/`, one file each, spread in the order `.env.example` and the README list them.
 */
import type { z } from 'zod';
import type { MasterKeySet } from '../platform/crypto/master-keys.js';
import type { Variable } from './variable.js';
import { serverVariables } from './groups/server.js';
import { httpVariables } from './groups/http.js';
import { databaseVariables } from './groups/database.js';
import { storeVariables } from './groups/store.js';
import { secretsVariables } from './groups/secrets.js';
import { accountsVariables } from './groups/accounts.js';
import { ssoVariables } from './groups/sso.js';
import { mailVariables } from './groups/mail.js';
import { providersVariables } from './groups/providers.js';
import { knowledgeVariables } from './groups/knowledge.js';
import { monitoringVariables } from './groups/monitoring.js';
import { securityMonitoringVariables } from './groups/security-monitoring.js';
import { privacyVariables } from './groups/privacy.js';
import { auditVariables } from './groups/audit.js';

export type Env = Record<string, string | undefined>;

/** Every environment variable Bastion reads, in documentation order. */
export const variables = {
  ...serverVariables,
  ...httpVariables,
  ...databaseVariables,
  ...storeVariables,
  ...secretsVariables,
  ...accountsVariables,
  ...ssoVariables,
  ...mailVariables,
  ...providersVariables,
  ...knowledgeVariables,
  ...monitoringVariables,
  ...securityMonitoringVariables,
  ...privacyVariables,
  ...auditVariables,
} satisfies Record<string, Variable>;

type Variables = typeof variables;
export type VariableName = keyof Variables;
/** The parsed values, before `loadConfig` normalises them into a Config. */
export type Raw = { [K in VariableName]: z.output<Variables[K]['schema']> };

export interface Config extends Omit<Raw, 'CORS_ORIGINS' | 'MASTER_KEYS' | 'PUBLIC_URL' | 'DATA_DIR'> {
  PUBLIC_URL: string;
  DATA_DIR: string;
  CORS_ORIGINS: string[];
  /** The configured master keys (MASTER_KEYS or MASTER_KEYS_FILE); undefined on the embedded default. */
  MASTER_KEYS: MasterKeySet | undefined;
}

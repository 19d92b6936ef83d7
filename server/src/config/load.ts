/**
 * The only module that reads `process.env` (lint rule `no-restricted-properties`):
 * `loadConfig` for the app and its commands, `testRunSettings` for the test harness.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { z } from 'zod';
import { parseMasterKeys, type MasterKeySet } from '../platform/crypto/master-keys.js';
import { productionProblems } from './production-checks.js';
import type { Variable } from './variable.js';
import { variables, type Config, type Env, type Raw, type VariableName } from './variables.js';

/** Thrown by `loadConfig`; the message names every bad variable and never a secret value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads, validates and normalises the environment; throws ConfigError listing every problem. */
export function loadConfig(processEnv: Env = process.env): Config {
  const problems: string[] = [];
  const env = withSecretFiles(processEnv, problems);
  const raw: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(variables) as [VariableName, Variable][]) {
    const value = env[name] === '' ? undefined : env[name];
    const parsed = variable.schema.safeParse(value);
    if (parsed.success) raw[name] = parsed.data;
    else problems.push(`${name}: ${describeIssue(parsed.error, variable.secret === true)}`);
  }
  const values = raw as Raw;
  const corsOrigins = parseOrigins(values.CORS_ORIGINS ?? '', problems);
  const masterKeys = readMasterKeys(values, values.NODE_ENV === 'production', problems);
  if (values.NODE_ENV === 'production') {
    // Add production refusals for variables that are not already reported as malformed.
    const reported = new Set(problems.map((p) => p.split(':')[0]));
    problems.push(...productionProblems(env, values, corsOrigins, masterKeys).filter((p) => !reported.has(p.split(':')[0])));
  }
  if (values.METRICS_PORT !== undefined && values.METRICS_PORT === values.PORT) problems.push('METRICS_PORT: must differ from PORT (metrics get a listener of their own)');
  if (values.ALERT_WEBHOOK_URL && !values.ALERT_WEBHOOK_SECRET) problems.push('ALERT_WEBHOOK_SECRET: ALERT_WEBHOOK_URL needs a secret to sign alerts with');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...values,
    PUBLIC_URL: (values.PUBLIC_URL ?? defaultPublicUrl(values.HOST, values.PORT)).replace(/\/$/, ''),
    DATA_DIR: path.resolve(values.DATA_DIR),
    CORS_ORIGINS: corsOrigins,
    MASTER_KEYS: masterKeys,
    // The deprecated variable was set for a local model: it keeps working for providers only.
    OUTBOUND_ALLOW_PRIVATE_PROVIDERS: [...values.OUTBOUND_ALLOW_PRIVATE_PROVIDERS, ...values.OUTBOUND_ALLOW_PRIVATE],
  };
}

/** The secret variables that also take a file (`NAME_FILE`): MASTER_KEYS has its own MASTER_KEYS_FILE. */
export const SECRET_FILE_VARIABLES = (Object.entries(variables) as [VariableName, Variable][]).filter(([name, v]) => v.secret === true && name !== 'MASTER_KEYS').map(([name]) => name);

/**
 * `NAME_FILE` for every secret variable (container secrets, systemd credentials): the file's
 * content, without its final line break, becomes NAME. Setting both is refused; so is, in
 * production, a file that group or others may read (as for MASTER_KEYS_FILE).
 */
function withSecretFiles(env: Env, problems: string[]): Env {
  const result: Env = { ...env };
  for (const name of SECRET_FILE_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const file = env[fileVariable];
    if (!file) continue;
    if (env[name]) {
      problems.push(`${fileVariable}: set either ${name} or ${fileVariable}, not both`);
      continue;
    }
    try {
      if (env.NODE_ENV === 'production' && (fs.statSync(file).mode & 0o077) !== 0) problems.push(`${fileVariable}: the file is readable by group or others; chmod 600 it`);
      result[name] = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      problems.push(`${fileVariable}: cannot read the file`);
    }
  }
  return result;
}

/**
 * PUBLIC_URL when it is not set: where the server listens, as a browser on the same machine
 * reaches it (a wildcard HOST becomes `localhost`, an IPv6 address gets brackets). Every
 * command computes it from its own HOST and PORT, so `bastion users invite` links to the
 * server only when it runs with the server's HOST and PORT (or PUBLIC_URL); with PORT=0
 * `bastion serve` picks its port before it builds anything and links carry that port.
 */
export function defaultPublicUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' || host === '[::]' ? 'localhost' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

function describeIssue(error: z.ZodError, secret: boolean): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid value';
  // Zod messages may quote the received value; secrets get a fixed message instead.
  // Our own refinements' messages (code `custom`) never quote the value.
  if (secret) return issue.code === 'custom' ? issue.message : issue.code === 'invalid_format' ? 'not a valid URL of the expected kind' : 'invalid value';
  return issue.message;
}

function parseOrigins(value: string, problems: string[]): string[] {
  const origins = value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue; // refused in production; allowed for local experiments
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      problems.push(`CORS_ORIGINS: "${origin}" is not an exact origin like https://app.example.com`);
    }
  }
  return origins;
}

function readMasterKeys(values: Raw, production: boolean, problems: string[]): MasterKeySet | undefined {
  if (values.MASTER_KEYS && values.MASTER_KEYS_FILE) {
    problems.push('MASTER_KEYS_FILE: set either MASTER_KEYS or MASTER_KEYS_FILE, not both');
    return undefined;
  }
  if (values.MASTER_KEYS) return parseMasterKeys(values.MASTER_KEYS, 'MASTER_KEYS', problems);
  if (!values.MASTER_KEYS_FILE) return undefined;
  const file = path.resolve(values.MASTER_KEYS_FILE);
  let text: string;
  try {
    if (production && (fs.statSync(file).mode & 0o077) !== 0) {
      problems.push('MASTER_KEYS_FILE: the file is readable by group or others; chmod 600 it');
    }
    text = fs.readFileSync(file, 'utf8');
  } catch {
    problems.push('MASTER_KEYS_FILE: cannot read the file');
    return undefined;
  }
  return parseMasterKeys(text, 'MASTER_KEYS_FILE', problems);
}

/** What the test harness takes from the environment: the run's backends, the worker and tools. */
export interface TestRunSettings {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  workerId: string;
  redisServerBin: string;
  ci: boolean;
  /** PATH handed to spawned Bastion processes. */
  path: string | undefined;
  /** The route fuzzer's time per operation (FUZZ_MS_PER_ROUTE) and its seed (FUZZ_SEED: replays a failure). */
  fuzzMsPerRoute: number;
  fuzzSeed: number | undefined;
  /** The scanner suite's profile (DAST_PROFILE): `ci` (bounded, the default) or `full`. */
  dastProfile: 'ci' | 'full';
}

export function testRunSettings(env: Env = process.env): TestRunSettings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    workerId: env.VITEST_POOL_ID ?? '0',
    redisServerBin: env.REDIS_SERVER_BIN ?? 'redis-server',
    ci: Boolean(env.CI),
    path: env.PATH,
    fuzzMsPerRoute: Number(env.FUZZ_MS_PER_ROUTE) || 400,
    fuzzSeed: env.FUZZ_SEED ? Number(env.FUZZ_SEED) : undefined,
    dastProfile: env.DAST_PROFILE === 'full' ? 'full' : 'ci',
  };
}

/**
 * The `bastion` command: serve (default), migrate, worker, config check|example|docs.
 */
import net from 'node:net';
import { ConfigError, defaultPublicUrl, loadConfig, type Config } from './config/index.js';
import { renderEnvExample, renderVariableTable } from './config/docs.js';
import { createLogger } from './platform/log.js';
import { AUDIT_USAGE, runAudit } from './cli/audit.js';
import { KEYS_USAGE, runKeys } from './cli/keys.js';
import { runMailOutbox, runUsers, USERS_USAGE } from './cli/users.js';
import { openDatabase } from './platform/db/database.js';
import { RETENTION_USAGE, runRetention } from './cli/retention.js';
import { EVAL_USAGE, runEval } from './cli/eval.js';
import { migrate } from './platform/db/migrator.js';

const USAGE = `Usage: bastion <command>

Commands:
  serve            start the HTTP server (default)
  migrate          apply pending database migrations and exit
  worker           run ingestion workers (needs REDIS_URL and DATABASE_URL)
  config check     validate the environment and print a summary
  config example   print a .env.example with every variable
  config docs      print the variable table (markdown)
${KEYS_USAGE}
${USERS_USAGE}
${AUDIT_USAGE}
${RETENTION_USAGE}
${EVAL_USAGE}
  help             show this text`;

export async function runCli(args: string[]): Promise<number> {
  const [command = 'serve', sub] = args;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./serve.js');
      await serve(await withChosenPort(loadConfig()));
      return -1; // keep running
    }
    case 'migrate':
      return runMigrate(loadConfig());
    case 'worker': {
      const { runWorker } = await import('./worker.js');
      return runWorker(loadConfig());
    }
    case 'config':
      return runConfig(sub);
    case 'keys':
      return runKeys(loadConfig(), args.slice(1));
    case 'users':
      return runUsers(loadConfig(), args.slice(1));
    case 'audit':
      return runAudit(loadConfig(), args.slice(1));
    case 'retention':
      return runRetention(loadConfig(), args.slice(1));
    case 'eval':
      return runEval(loadConfig(), args.slice(1));
    case 'mail':
      if (sub !== 'outbox') break;
      return runMailOutbox(loadConfig());
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
  }
  console.error(`bastion: unknown command "${args.join(' ')}"\n\n${USAGE}`);
  return 2;
}

/**
 * PORT=0 with PUBLIC_URL unset: pick the free port now, so the derived PUBLIC_URL (links in
 * mails, allowed origins, the cookie's scope) names the port the server really listens on.
 */
export async function withChosenPort(config: Config): Promise<Config> {
  if (config.PORT !== 0 || config.PUBLIC_URL !== defaultPublicUrl(config.HOST, 0)) return config;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, config.HOST, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return { ...config, PORT: port, PUBLIC_URL: defaultPublicUrl(config.HOST, port) };
}

async function runMigrate(config: Config): Promise<number> {
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openDatabase(config, logger, { owner: 'command' });
  try {
    const { applied, current } = await migrate(database.db);
    console.log(applied.length === 0 ? `Database is up to date (version ${current}).` : `Applied ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}; now at version ${current}.`);
    return 0;
  } finally {
    await database.close();
  }
}

function runConfig(sub: string | undefined): number {
  if (sub === 'example') {
    process.stdout.write(renderEnvExample());
    return 0;
  }
  if (sub === 'docs') {
    process.stdout.write(renderVariableTable());
    return 0;
  }
  if (sub !== 'check') {
    console.error(`bastion config: expected "check", "example" or "docs"`);
    return 2;
  }
  const config = loadConfig();
  console.log(
    [
      'Configuration is valid.',
      `  environment: ${config.NODE_ENV}`,
      `  listen:      ${config.HOST}:${config.PORT} (public URL ${config.PUBLIC_URL})`,
      `  database:    ${config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.DATA_DIR}`}`,
      `  store:       ${config.REDIS_URL ? 'Redis (REDIS_URL)' : 'in-memory (one process only)'}`,
      `  master keys: ${config.MASTER_KEYS ? `${config.MASTER_KEYS.keys.length} configured, active "${config.MASTER_KEYS.activeId}"` : `generated key file in ${config.DATA_DIR}`}`,
    ].join('\n'),
  );
  return 0;
}

/** Runs the CLI and exits with its status; configuration errors print without a stack trace. */
export async function main(args: string[]): Promise<void> {
  try {
    const code = await runCli(args);
    if (code >= 0) process.exit(code);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    console.error(`bastion: ${(error as Error).message}`);
    process.exit(1);
  }
}

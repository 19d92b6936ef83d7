/**
 * Configuration: every variable is declared once, in its group under `groups/`, with its
 * schema, default and documentation; `.env.example` and the README table are generated
 * from the declarations (`docs.ts`, `npm run config:docs`) and a test keeps them in step.
 *
 *   variable.ts           the Variable shape and the shared schema builders
 *   groups/*.ts           one file per group (Server, HTTP, Database, Store, …)
 *   variables.ts          the groups in documentation order; Config, Env, VariableName
 *   load.ts               loadConfig and testRunSettings: the only reader of process.env
 *   production-checks.ts  what NODE_ENV=production refuses
 *   docs.ts               renders .env.example and the README variable table
 *   in-force.ts           the settings in force for administrators, secrets redacted
 */
export { variables, type Config, type Env, type VariableName } from './variables.js';
export { ConfigError, defaultPublicUrl, loadConfig, testRunSettings, type TestRunSettings } from './load.js';
export { entropyBits } from './production-checks.js';
export { settingsInForce, type SettingInForce } from './in-force.js';

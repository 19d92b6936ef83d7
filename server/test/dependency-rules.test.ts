/**
 * The house dependency rules (.dependency-cruiser.mjs) fire on the code they exist to stop.
 * Each case writes a small tree with the repository's layout to a temporary directory,
 * plants one violation and cruises it with the real configuration, in process.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseOptions, type ICruiseResult, type IResolveOptions } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import extractWebpackResolveConfig from 'dependency-cruiser/config-utl/extract-webpack-resolve-config';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Tree = Record<string, string>;

/** A clean tree: every import here is allowed. */
const CLEAN: Tree = {
  'server/src/errors.ts': 'export class AppError extends Error {}\n',
  'server/src/platform/clock.ts': "import { AppError } from '../errors.js';\nexport const now = (): number => { if (!AppError) throw new Error(); return 0; };\n",
  'server/src/http/errors-plugin.ts': "import { AppError } from '../errors.js';\nimport { now } from '../platform/clock.js';\nexport const plugin = [AppError, now];\n",
  'server/src/modules/users/repo.ts': "import { now } from '../../platform/clock.js';\nexport const findUser = () => now();\n",
  'server/src/modules/users/service.ts': "import { findUser } from './repo.js';\nexport const getUser = () => findUser();\n",
  'server/src/modules/users/routes.ts': "import { getUser } from './service.js';\nimport { plugin } from '../../http/errors-plugin.js';\nexport const userRoutes = [getUser, plugin];\n",
  'server/src/modules/users/admin-routes.ts': "import { findUser } from './repo.js';\nexport const adminRoutes = [findUser];\n",
  'server/src/modules/users/types.ts': 'export interface User { id: string }\n',
  'server/src/modules/auth/service.ts': "import { getUser } from '../users/service.js';\nimport type { User } from '../users/types.js';\nexport const login = (): User | undefined => { getUser(); return undefined; };\n",
  'server/src/compose/services.ts': "import { login } from '../modules/auth/service.js';\nexport const services = { login };\n",
  'server/src/app.ts': "import { services } from './compose/services.js';\nimport { userRoutes } from './modules/users/routes.js';\nexport const app = [services, userRoutes];\n",
  'web/src/lib/api.ts': 'export const api = (path: string) => fetch(path);\n',
  'web/src/lib/format.ts': "import { api } from '$lib/api';\nexport const format = () => api('/');\n",
};

/** One planted violation per rule: extra files on top of the clean tree. */
const PLANTED: Array<[rule: string, label: string, files: Tree]> = [
  ['platform-is-below-the-app', 'platform → http/', { 'server/src/platform/bad.ts': "import { plugin } from '../http/errors-plugin.js';\nexport const x = plugin;\n" }],
  ['platform-is-below-the-app', 'platform → a module', { 'server/src/platform/bad.ts': "import { getUser } from '../modules/users/service.js';\nexport const x = getUser;\n" }],
  ['platform-is-below-the-app', 'platform → app.ts', { 'server/src/platform/bad.ts': "import { app } from '../app.js';\nexport const x = app;\n" }],
  ['platform-is-below-the-app', 'platform → compose/', { 'server/src/platform/bad.ts': "import { services } from '../compose/services.js';\nexport const x = services;\n" }],
  ['http-imports-no-module', 'http → a module (type-only)', { 'server/src/http/bad.ts': "import type { User } from '../modules/users/types.js';\nexport type X = User;\n" }],
  ['module-uses-another-module-service', "module → another module's repo.ts", { 'server/src/modules/auth/bad.ts': "import { findUser } from '../users/repo.js';\nexport const x = findUser;\n" }],
  ['module-uses-another-module-service', "module → another module's routes.ts", { 'server/src/modules/auth/bad.ts': "import { userRoutes } from '../users/routes.js';\nexport const x = userRoutes;\n" }],
  ['module-uses-another-module-service', "module → another module's admin-routes.ts", { 'server/src/modules/auth/bad.ts': "import { adminRoutes } from '../users/admin-routes.js';\nexport const x = adminRoutes;\n" }],
  ['module-imports-no-composition', 'module → app.ts', { 'server/src/modules/auth/bad.ts': "import { app } from '../../app.js';\nexport const x = app;\n" }],
  ['module-imports-no-composition', 'module → compose/', { 'server/src/modules/auth/bad.ts': "import { services } from '../../compose/services.js';\nexport const x = services;\n" }],
  ['web-imports-no-server-code', 'web → server', { 'web/src/lib/bad.ts': "import { AppError } from '../../../server/src/errors.js';\nexport const x = AppError;\n" }],
  [
    'no-circular',
    'a cycle through a type-only import',
    {
      'server/src/modules/users/service.ts': "import { findUser } from './repo.js';\nimport type { User } from './cycle.js';\nexport const getUser = (): User | undefined => { findUser(); return undefined; };\n",
      'server/src/modules/users/cycle.ts': "import { getUser } from './service.js';\nexport type User = ReturnType<typeof getUser>;\n",
    },
  ],
  [
    'no-circular',
    'a cycle in the web app through $lib',
    {
      'web/src/lib/api.ts': "import { format } from '$lib/format';\nexport const api = (path: string) => fetch(path + String(format));\n",
    },
  ],
];

let options: ICruiseOptions;
let resolveOptions: Partial<IResolveOptions>;
let tsConfig: unknown;
let dir: string | undefined;

beforeAll(async () => {
  options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.mjs'));
  resolveOptions = options.webpackConfig?.fileName ? ((await extractWebpackResolveConfig(options.webpackConfig.fileName)) as Partial<IResolveOptions>) : {};
  tsConfig = options.tsConfig?.fileName ? extractTSConfig(options.tsConfig.fileName) : undefined;
});

afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Writes the tree to a fresh temporary directory, cruises it and returns "rule: from → to" lines. */
async function violations(tree: Tree): Promise<string[]> {
  dir = await mkdtemp(join(tmpdir(), 'bastion-depcruise-'));
  for (const [path, text] of Object.entries(tree)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  // The aliases ($lib) point into the repository; point them at the same place in the copy.
  const alias = Object.fromEntries(Object.entries(resolveOptions.alias ?? {}).map(([name, target]) => [name, String(target).replace(ROOT, `${dir}/`)]));
  const { output } = await cruise(['server/src', 'web/src'], { ...options, baseDir: dir, validate: true }, { ...resolveOptions, alias }, { tsConfig });
  const result = output as ICruiseResult;
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe('dependency rules', () => {
  it('find nothing in a tree that keeps them', async () => {
    expect(await violations(CLEAN)).toEqual([]);
  });

  it.each(PLANTED)('%s fires on %s', async (rule, _label, files) => {
    const found = await violations({ ...CLEAN, ...files });
    expect(found.length).toBeGreaterThan(0);
    expect(
      found.every((line) => line.startsWith(`${rule}: `)),
      found.join('\n'),
    ).toBe(true);
  });
});

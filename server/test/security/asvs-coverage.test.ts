/**
 * Every ASVS 5.0 requirement that `security/asvs-l2.json` calls "tested" has at least one
 * attack test whose name carries `[ASVS <id>]`, and every such tag names a requirement in
 * the file. Test names are read with the TypeScript parser from the `it(…)`/`test(…)`
 * calls (including `.each`, `.runIf`, `.skip`…) of every `*.test.ts` under server/src,
 * server/test and web/e2e. The table in docs/security-testing.md must agree with the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ASVS_FILE = path.join(ROOT, 'security', 'asvs-l2.json');
const DOCS_FILE = path.join(ROOT, 'docs', 'security-testing.md');
const TEST_DIRS = ['server/src', 'server/test', 'web/e2e'];
const STATUSES = ['tested', 'not-applicable', 'not-tested'] as const;
const ID = /^\d{1,2}\.\d{1,2}\.\d{1,2}$/;
const TAG = /\[ASVS ([^\]]*)\]/g;

interface Requirement {
  id: string;
  requirement: string;
  status: (typeof STATUSES)[number];
  reason?: string;
  note?: string;
}

interface TaggedTest {
  file: string;
  line: number;
  name: string;
  ids: string[];
}

function testFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** `it`, `test`, `it.each([...])`, `it.runIf(x)`, `test.skip`… all root in `it` or `test`. */
function isTestCallee(expression: ts.Expression): boolean {
  let node: ts.Expression = expression;
  while (ts.isCallExpression(node) || ts.isPropertyAccessExpression(node)) node = node.expression;
  return ts.isIdentifier(node) && (node.text === 'it' || node.text === 'test');
}

function nameOf(argument: ts.Expression | undefined, source: ts.SourceFile): string | undefined {
  if (!argument) return undefined;
  if (ts.isStringLiteral(argument) || ts.isNoSubstitutionTemplateLiteral(argument)) return argument.text;
  if (ts.isTemplateExpression(argument)) return argument.getText(source).slice(1, -1);
  return undefined;
}

/** The names of the tests in one file, with the line each starts on. */
function testNames(file: string): { name: string; line: number }[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names: { name: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && isTestCallee(node.expression)) {
      const name = nameOf(node.arguments[0], source);
      if (name !== undefined) names.push({ name, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

function taggedTests(): { tests: TaggedTest[]; malformed: string[] } {
  const tests: TaggedTest[] = [];
  const malformed: string[] = [];
  for (const file of TEST_DIRS.flatMap((dir) => testFiles(path.join(ROOT, dir)))) {
    const relative = path.relative(ROOT, file).split(path.sep).join('/');
    for (const { name, line } of testNames(file)) {
      const ids: string[] = [];
      for (const match of name.matchAll(TAG)) {
        for (const id of match[1]!.split(',').map((part) => part.trim())) {
          if (ID.test(id)) ids.push(id);
          else malformed.push(`${relative}:${line}: "${match[0]}"`);
        }
      }
      if (ids.length > 0) tests.push({ file: relative, line, name, ids });
    }
  }
  return { tests, malformed };
}

function readRequirements(): Requirement[] {
  const document = JSON.parse(fs.readFileSync(ASVS_FILE, 'utf8')) as { requirements?: unknown };
  expect(Array.isArray(document.requirements), 'security/asvs-l2.json needs a "requirements" array').toBe(true);
  return document.requirements as Requirement[];
}

/** Rows of the table under "## Attack tests by ASVS id" (id | requirement | status | where tested | reason): id, status, files. */
function docsTable(): { id: string; status: string; files: string[] }[] {
  const text = fs.readFileSync(DOCS_FILE, 'utf8');
  const start = text.indexOf('## Attack tests by ASVS id');
  expect(start, 'docs/security-testing.md has no "Attack tests by ASVS id" section').toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  return section
    .split('\n')
    .filter((line) => /^\|\s*\d/.test(line))
    .map((line) => {
      const cells = line.split('|').map((cell) => cell.trim());
      return { id: cells[1]!, status: cells[3]!, files: [...cells[4]!.matchAll(/`([^`]+\.test\.ts)`/g)].map((m) => m[1]!) };
    });
}

const requirements = readRequirements();
const { tests, malformed } = taggedTests();

describe('security/asvs-l2.json', () => {
  it('is well-formed: unique ids, a short text and a known status each, a reason unless tested', () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const [index, row] of requirements.entries()) {
      const where = `requirements[${index}] (${String(row.id)})`;
      if (typeof row.id !== 'string' || !ID.test(row.id)) problems.push(`${where}: id must look like 6.2.1`);
      if (seen.has(row.id)) problems.push(`${where}: duplicate id`);
      seen.add(row.id);
      if (typeof row.requirement !== 'string' || row.requirement.trim().length < 10) problems.push(`${where}: requirement text missing`);
      if (!STATUSES.includes(row.status)) problems.push(`${where}: status must be one of ${STATUSES.join(', ')}`);
      if (row.status !== 'tested' && (typeof row.reason !== 'string' || row.reason.trim().length < 20)) problems.push(`${where}: a ${row.status} requirement needs a reason`);
      const extra = Object.keys(row).filter((key) => !['id', 'requirement', 'status', 'reason', 'note'].includes(key));
      if (extra.length > 0) problems.push(`${where}: unknown keys ${extra.join(', ')}`);
    }
    expect(problems).toEqual([]);
    // The Level 2 list of docs/security-testing.md: about sixty to ninety requirements.
    expect(requirements.length).toBeGreaterThanOrEqual(60);
  });
});

describe('ASVS tags in test names', () => {
  it('finds tagged tests at all (the scanner itself works)', () => {
    expect(tests.length).toBeGreaterThan(50);
    expect(tests.some((t) => t.file.startsWith('server/src/') && t.ids.includes('7.2.4'))).toBe(true);
  });

  it('are well-formed: [ASVS 6.2.1] or [ASVS 7.2.4, 7.4.1]', () => {
    expect(malformed).toEqual([]);
  });

  it('name only requirements listed in security/asvs-l2.json', () => {
    const known = new Set(requirements.map((row) => row.id));
    const unknown = tests.flatMap((t) => t.ids.filter((id) => !known.has(id)).map((id) => `${id} (${t.file}:${t.line})`));
    expect(unknown, 'tests tag ASVS ids that security/asvs-l2.json does not list').toEqual([]);
  });

  it('exist for every requirement marked "tested"', () => {
    const tagged = new Set(tests.flatMap((t) => t.ids));
    const missing = requirements.filter((row) => row.status === 'tested' && !tagged.has(row.id)).map((row) => row.id);
    expect(missing, 'requirements marked "tested" without a test named [ASVS <id>]').toEqual([]);
  });

  it('do not name requirements marked "not-tested" (mark them "tested" instead)', () => {
    const notTested = new Set(requirements.filter((row) => row.status === 'not-tested').map((row) => row.id));
    const contradictions = tests.flatMap((t) => t.ids.filter((id) => notTested.has(id)).map((id) => `${id} (${t.file}:${t.line})`));
    expect(contradictions).toEqual([]);
  });
});

describe('the table in docs/security-testing.md', () => {
  it('lists the same ids with the same status, and only files that hold a test tagged with the id', () => {
    const rows = docsTable();
    expect(rows.map((row) => `${row.id} ${row.status}`)).toEqual(requirements.map((row) => `${row.id} ${row.status}`));
    const filesById = new Map<string, Set<string>>();
    for (const t of tests) for (const id of t.ids) filesById.set(id, (filesById.get(id) ?? new Set()).add(t.file));
    const wrong = rows.flatMap((row) => row.files.filter((file) => !filesById.get(row.id)?.has(file)).map((file) => `${row.id}: ${file}`));
    expect(wrong, 'files named in the table without a test tagged with that id').toEqual([]);
    const empty = rows.filter((row) => row.status === 'tested' && row.files.length === 0).map((row) => row.id);
    expect(empty, 'tested rows that name no file').toEqual([]);
  });
});

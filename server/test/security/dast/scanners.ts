/**
 * Debian's scanners against the staging stack (stack.ts), each run bounded in time and its
 * output parsed into findings: nmap's HTTP scripts, testssl.sh, sqlmap and wapiti.
 * Severity is the tool's own where it has one (testssl.sh, wapiti's level); nmap's script
 * output and sqlmap's verdicts are mapped here.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export interface Finding {
  tool: string;
  id: string;
  severity: Severity;
  detail: string;
}
export interface ScanResult {
  tool: string;
  /** What was scanned, for the report. */
  scope: string;
  /** Requests sent, where the tool says. */
  requests: number | null;
  findings: Finding[];
  seconds: number;
}

async function timed(tool: string, scope: string, work: () => Promise<{ requests: number | null; findings: Finding[] }>): Promise<ScanResult> {
  const started = Date.now();
  const { requests, findings } = await work();
  return { tool, scope, requests, findings, seconds: Math.round((Date.now() - started) / 1000) };
}

/** Runs a command that may exit non-zero (scanners do when they find something); its stdout and stderr. */
async function capture(command: string, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; killed?: boolean; message: string };
    if (failed.killed) throw new Error(`${command} did not finish within ${timeoutMs / 1000} s`);
    return `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
}

/** nmap's HTTP scripts through the TLS proxy: security headers, methods, CORS, cookie flags. */
export function nmap(port: number): Promise<ScanResult> {
  return timed('nmap', `127.0.0.1:${port} (http-security-headers, http-methods, http-cors, http-cookie-flags)`, async () => {
    const out = await capture(
      'nmap',
      ['-Pn', '-n', '-sV', '--version-light', '-p', String(port), '--script', 'http-security-headers,http-methods,http-cors,http-cookie-flags', '--script-args', 'http-methods.url-path=/api/v1/me', '-oX', '-', '127.0.0.1'],
      120_000,
    );
    const scripts = new Map<string, string>();
    for (const match of out.matchAll(/<script id="([^"]+)" output="([^"]*)"/g))
      scripts.set(
        match[1]!,
        match[2]!
          .replace(/&#xa;/g, '\n')
          .replace(/&quot;/g, '"')
          .replace(/&apos;/g, "'")
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&'),
      );
    const findings: Finding[] = [];
    const headers = scripts.get('http-security-headers') ?? '';
    if (!headers) findings.push({ tool: 'nmap', id: 'no-header-report', severity: 'medium', detail: 'http-security-headers reported nothing' });
    for (const required of ['Strict-Transport-Security', 'X-Content-Type-Options', 'Content-Security-Policy', 'X-Frame-Options']) {
      if (!headers.includes(`${required}:`)) findings.push({ tool: 'nmap', id: `missing-${required.toLowerCase()}`, severity: 'medium', detail: `${required} not sent` });
    }
    const hsts = /Header: Strict-Transport-Security: ([^\n]*)/.exec(headers)?.[1] ?? '';
    if (hsts.includes(',')) findings.push({ tool: 'nmap', id: 'hsts-multiple', severity: 'medium', detail: `more than one Strict-Transport-Security header: ${hsts}` });
    const methods = scripts.get('http-methods') ?? '';
    if (/Potentially risky methods/i.test(methods)) findings.push({ tool: 'nmap', id: 'risky-methods', severity: 'medium', detail: methods.trim() });
    const cors = scripts.get('http-cors') ?? '';
    if (cors.trim()) findings.push({ tool: 'nmap', id: 'cors', severity: 'medium', detail: `cross-origin requests allowed: ${cors.trim()}` });
    const cookies = scripts.get('http-cookie-flags') ?? '';
    if (cookies.trim()) findings.push({ tool: 'nmap', id: 'cookie-flags', severity: 'medium', detail: cookies.trim() });
    return { requests: null, findings };
  });
}

const TESTSSL_SEVERITY: Record<string, Severity | undefined> = { LOW: 'low', MEDIUM: 'medium', HIGH: 'high', CRITICAL: 'critical' };

/**
 * The checks of the bounded run: protocols, standard cipher lists, forward secrecy, the
 * server's cipher order, its defaults (certificate, session handling) and the HTTP headers
 * (HSTS). Left to the full run: the known-vulnerability checks, which test the TLS library
 * rather than its configuration, and client simulation — together about half the time.
 */
const TESTSSL_BOUNDED = ['--protocols', '--std', '--fs', '--server-preference', '--server-defaults', '--headers'];

/** testssl.sh against the TLS proxy: protocols, ciphers, certificate, HSTS, and in the full run known vulnerabilities. */
export function testssl(port: number, options: { fast: boolean }): Promise<ScanResult> {
  return timed('testssl.sh', `127.0.0.1:${port}${options.fast ? ' (configuration checks)' : ''}`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-testssl-'));
    const json = path.join(dir, 'out.json');
    await capture('testssl', ['--quiet', '--color', '0', '--warnings', 'off', ...(options.fast ? TESTSSL_BOUNDED : []), '--ip', 'one', '--jsonfile', json, `127.0.0.1:${port}`], 600_000);
    const entries = JSON.parse(await fs.readFile(json, 'utf8')) as { id: string; severity: string; finding: string }[];
    await fs.rm(dir, { recursive: true, force: true });
    // WARN is about the scanner's own OpenSSL (no RC4, no GOST engine), not the server.
    const findings = entries.flatMap((e) => {
      const severity = TESTSSL_SEVERITY[e.severity];
      return severity ? [{ tool: 'testssl.sh', id: e.id, severity, detail: e.finding }] : [];
    });
    return { requests: null, findings };
  });
}

export interface SqlmapTarget {
  /** The operation, `METHOD /path`. */
  name: string;
  /** Path and query values to attack are marked with sqlmap's `*`. */
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** JSON body; sqlmap attacks each of its fields. */
  data?: string;
  /** How many `*` markers the URL holds: each must get a verdict. */
  markers: number;
  /** The body's top-level scalar fields: each must get a verdict. */
  bodyFields: string[];
  /** The credential this operation accepts. */
  headers: Record<string, string>;
  /** HTTP codes that are this request's normal answer (a made-up id's 404), not a reason to stop. */
  ignoreCodes?: number[];
}

/**
 * Which parameters sqlmap gave a verdict on, which it found injectable, and whether the
 * injection was confirmed: after finding one, sqlmap fingerprints the database through it,
 * and a real injection into PostgreSQL answers PostgreSQL's checks. A difference between
 * its "true" and "false" pages that no database's checks reproduce is not confirmed.
 */
export function sqlmapVerdicts(out: string): { tested: Set<string>; injectable: Set<string>; confirmed: boolean } {
  const tested = new Set<string>();
  const injectable = new Set<string>();
  const confirmed = !/not able to fingerprint the back-end database management system/i.test(out);
  for (const match of out.matchAll(/parameter '([^']+)' does not seem to be injectable/gi)) tested.add(match[1]!);
  // Only the closing summary is a verdict: "appears to be … injectable" lines are candidates
  // that sqlmap may still reject as false positives.
  const summary = /identified the following injection point\(s\)[^\n]*\n---\n([\s\S]*?)\n---/i.exec(out)?.[1] ?? '';
  for (const match of summary.matchAll(/^Parameter: (.+?) \(/gm)) {
    tested.add(match[1]!);
    injectable.add(match[1]!);
  }
  return { tested, injectable, confirmed };
}

/**
 * Below --level 4 sqlmap skips, as a likely anti-CSRF value, every parameter whose name holds
 * "csrf", "xsrf" or "token", and the one-time tokens of verify-email, reset, sign-in links
 * and refresh are exactly such parameters. Naming the parameters with -p makes it test them:
 * all of them, then, with the headers --level 3 would have added.
 */
export function namedParameters(target: Pick<SqlmapTarget, 'markers' | 'bodyFields'>): string[] {
  if (!target.bodyFields.some((field) => /csrf|xsrf|token/i.test(field))) return [];
  const markers = Array.from({ length: target.markers }, (_, i) => `#${i + 1}*`);
  return ['-p', [...target.bodyFields, ...markers, 'User-Agent', 'Referer'].join(',')];
}

/** The parameters of `target` that sqlmap gave no verdict on. */
export function untested(target: Pick<SqlmapTarget, 'markers' | 'bodyFields'>, tested: Set<string>): string[] {
  const missing = target.bodyFields.filter((field) => !tested.has(`JSON ${field}`)).map((field) => `body ${field}`);
  // sqlmap numbers the URL's markers #1*, #2*, …, naming them after the body's type when there is one.
  const markers = new Set([...tested].flatMap((name) => /^(?:JSON )?#(\d+)\*$/.exec(name)?.[1] ?? []));
  for (let i = 1; i <= target.markers; i++) if (!markers.has(String(i))) missing.push(`URL marker #${i}`);
  return missing;
}

/**
 * sqlmap on each target, one after the other, told the back end is PostgreSQL (it is; the
 * payloads for other databases would only add requests). A parameter it confirms is a high
 * finding; one it could not test (refused, unreachable, stopped early) a medium one.
 */
export function sqlmap(targets: SqlmapTarget[], options: { level: number; risk: number; techniques: string; timeoutMs: number }): Promise<ScanResult> {
  return timed('sqlmap', `${targets.length} operations, --level ${options.level} --risk ${options.risk} --technique ${options.techniques} --dbms PostgreSQL`, async () => {
    const findings: Finding[] = [];
    let requests = 0;
    for (const target of targets) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-sqlmap-'));
      const out = await capture(
        'sqlmap',
        [
          '-u',
          target.url,
          '--method',
          target.method,
          ...(target.data ? ['--data', target.data, '-H', 'Content-Type: application/json'] : []),
          ...Object.entries(target.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
          ...(target.ignoreCodes ? ['--ignore-code', target.ignoreCodes.join(',')] : []),
          ...namedParameters(target),
          '--batch',
          // After one injectable parameter, go on with the others (batch mode would stop).
          '--answers',
          'keep testing=Y',
          '--dbms',
          'PostgreSQL',
          '--level',
          String(options.level),
          '--risk',
          String(options.risk),
          '--technique',
          options.techniques,
          '--drop-set-cookie',
          '--timeout',
          '10',
          '--retries',
          '1',
          '--threads',
          '4',
          '--flush-session',
          '--output-dir',
          dir,
          '-t',
          path.join(dir, 'traffic.txt'),
          '--disable-coloring',
        ],
        options.timeoutMs,
      ).catch((error: Error) => `[CRITICAL] ${error.message}`); // out of time: its parameters are reported untested
      const traffic = await fs.readFile(path.join(dir, 'traffic.txt'), 'utf8').catch(() => '');
      requests += traffic.match(/^HTTP request \[#\d+\]/gm)?.length ?? 0;
      await fs.rm(dir, { recursive: true, force: true });
      const { tested, injectable, confirmed } = sqlmapVerdicts(out);
      for (const parameter of injectable) {
        const technique = /Parameter: [^\n]*\n\s+Type: ([^\n]+)/.exec(out)?.[1] ?? 'unknown technique';
        findings.push(
          confirmed
            ? { tool: 'sqlmap', id: `${target.name}:${parameter}`, severity: 'high', detail: `sqlmap confirmed an injection in ${parameter} (${technique}) and fingerprinted the database through it` }
            : { tool: 'sqlmap', id: `${target.name}:${parameter}:unconfirmed`, severity: 'low', detail: `sqlmap saw ${parameter} change the answer (${technique}) but no database's checks answered through it: not confirmed` },
        );
      }
      // A parameter sqlmap could not test is not a pass.
      const missing = untested(target, tested);
      if (missing.length > 0) {
        const reason = /\[(?:CRITICAL|ERROR)\] ([^\n]*)/.exec(out)?.[1] ?? `its output ended: ${out.trim().split('\n').slice(-3).join(' / ')}`;
        findings.push({ tool: 'sqlmap', id: `${target.name}:untested`, severity: 'medium', detail: `no verdict on ${missing.join(', ')}: ${reason}` });
      }
    }
    return { requests: requests || null, findings };
  });
}

const WAPITI_LEVEL: Record<number, Severity> = { 1: 'low', 2: 'medium', 3: 'high', 4: 'critical' };

/** wapiti from the app's root and API URLs (it attacks query parameters, forms, headers and cookies). */
export function wapiti(base: string, startUrls: string[], headers: Record<string, string>, options: { modules: string; maxScanSeconds: number; maxAttackSeconds: number }): Promise<ScanResult> {
  return timed('wapiti', `${startUrls.length} start URLs, modules ${options.modules}`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-wapiti-'));
    const json = path.join(dir, 'out.json');
    const out = await capture(
      'wapiti',
      [
        '-u',
        `${base}/`,
        '--scope',
        'domain',
        '-m',
        options.modules,
        ...startUrls.flatMap((url) => ['-s', url]),
        ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
        '--flush-session',
        '-d',
        '2',
        '--max-scan-time',
        String(options.maxScanSeconds),
        '--max-attack-time',
        String(options.maxAttackSeconds),
        '--verify-ssl',
        '0',
        '--no-bugreport',
        '-f',
        'json',
        '-o',
        json,
      ],
      (options.maxScanSeconds + 120) * 1000,
    );
    const report = JSON.parse(await fs.readFile(json, 'utf8').catch(() => `{"error": ${JSON.stringify(out.slice(-500))}}`)) as {
      vulnerabilities?: Record<string, { path: string; info: string; level: number; parameter: string }[]>;
      anomalies?: Record<string, { path: string; info: string; level: number }[]>;
      error?: string;
    };
    await fs.rm(dir, { recursive: true, force: true });
    if (report.error !== undefined) throw new Error(`wapiti wrote no report: ${report.error}`);
    const findings: Finding[] = [];
    for (const [category, items] of Object.entries(report.vulnerabilities ?? {})) {
      for (const item of items) findings.push({ tool: 'wapiti', id: `${category}: ${item.info}`, severity: WAPITI_LEVEL[item.level] ?? 'medium', detail: `${item.path} ${item.parameter}`.trim() });
    }
    // Anomalies are the server's own failures (500s, timeouts) under attack.
    for (const [category, items] of Object.entries(report.anomalies ?? {})) {
      for (const item of items) findings.push({ tool: 'wapiti', id: `anomaly ${category}`, severity: 'medium', detail: `${item.path}: ${item.info}` });
    }
    return { requests: null, findings };
  });
}

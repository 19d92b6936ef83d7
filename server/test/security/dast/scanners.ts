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

/** testssl.sh against the TLS proxy: protocols, ciphers, certificate, HSTS, known vulnerabilities. */
export function testssl(port: number, options: { fast: boolean }): Promise<ScanResult> {
  return timed('testssl.sh', `127.0.0.1:${port}${options.fast ? ' (--fast)' : ''}`, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-testssl-'));
    const json = path.join(dir, 'out.json');
    await capture('testssl', ['--quiet', '--color', '0', '--warnings', 'off', ...(options.fast ? ['--fast'] : []), '--ip', 'one', '--jsonfile', json, `127.0.0.1:${port}`], 600_000);
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
  name: string;
  url: string;
  method: 'GET' | 'POST' | 'PATCH';
  /** JSON body; its values are tested. */
  data?: string;
  /** The parameters to test (body, query or path markers). */
  params: string[];
  /** HTTP codes that are this endpoint's normal answer (sign-in's 401), not a reason for sqlmap to stop. */
  ignoreCodes?: number[];
}

/** sqlmap on each target; a parameter it calls injectable is a high finding. */
export function sqlmap(targets: SqlmapTarget[], headers: Record<string, string>, options: { level: number; risk: number; techniques: string; timeoutMs: number }): Promise<ScanResult> {
  return timed('sqlmap', `${targets.length} endpoints, --level ${options.level} --risk ${options.risk} --technique ${options.techniques}`, async () => {
    const findings: Finding[] = [];
    for (const target of targets) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bastion-sqlmap-'));
      const out = await capture(
        'sqlmap',
        [
          '-u',
          target.url,
          '--method',
          target.method,
          ...(target.data ? ['--data', target.data] : []),
          ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
          ...(target.data ? ['-H', 'Content-Type: application/json'] : []),
          ...(target.ignoreCodes ? ['--ignore-code', target.ignoreCodes.join(',')] : []),
          '-p',
          target.params.join(','),
          '--batch',
          '--level',
          String(options.level),
          '--risk',
          String(options.risk),
          '--technique',
          options.techniques,
          '--timeout',
          '10',
          '--retries',
          '1',
          '--threads',
          '4',
          '--flush-session',
          '--output-dir',
          dir,
          '--disable-coloring',
        ],
        options.timeoutMs,
      );
      await fs.rm(dir, { recursive: true, force: true });
      for (const match of out.matchAll(/parameter '([^']+)' (?:is|appears to be) '?([^'\n]*?)'? injectable/gi)) {
        if (/not/i.test(match[0])) continue;
        findings.push({ tool: 'sqlmap', id: `${target.name}:${match[1]}`, severity: 'high', detail: match[0] });
      }
      if (/sqlmap identified the following injection point/i.test(out) && !findings.some((f) => f.id.startsWith(`${target.name}:`))) {
        findings.push({ tool: 'sqlmap', id: `${target.name}`, severity: 'high', detail: 'sqlmap identified an injection point' });
      }
      // A target sqlmap could not test (refused, unreachable) is not a pass.
      const verdict = (param: string) => new RegExp(`parameter '${param.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' (does not seem to be|is|appears to be) `, 'i');
      const tested = target.params.filter((param) => verdict(param).test(out));
      if (tested.length < target.params.length) {
        const critical = /\[(?:CRITICAL|ERROR)\] ([^\n]*)/.exec(out)?.[1] ?? `no verdict; its output ended: ${out.trim().split('\n').slice(-3).join(' / ')}`;
        findings.push({ tool: 'sqlmap', id: `${target.name}:untested`, severity: 'medium', detail: `tested ${tested.length} of ${target.params.length} parameters: ${critical}` });
      }
    }
    return { requests: null, findings };
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

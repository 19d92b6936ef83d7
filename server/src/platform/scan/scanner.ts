/**
 * Malware scanning for uploads. Every upload passes the built-in scanner (builtin.ts)
 * and, when configured, ClamAV through clamd (clamd.ts); CompositeScanner runs them in
 * order.
 *
 * A verdict is either clean or infected with a machine-readable `reason`:
 *
 * | reason                   | from     | meaning                                                                 |
 * | ------------------------ | -------- | ----------------------------------------------------------------------- |
 * | `eicar_test_signature`   | builtin  | the EICAR anti-virus test string occurs somewhere in the file           |
 * | `executable`             | builtin  | PE/DOS (MZ), ELF, Mach-O, Java class, WebAssembly, Windows shortcut     |
 * |                          |          | (.lnk), Windows Installer (MSI), or a ZIP entry named like a program    |
 * |                          |          | or script (.exe, .dll, .js, .vbs, .ps1, .bat, .cmd, .scr, ...)          |
 * | `script`                 | builtin  | starts with `#!` (a shebang script)                                     |
 * | `macro_enabled_office`   | builtin  | OLE compound file (legacy .doc/.xls/.ppt can carry macros), or an OOXML |
 * |                          |          | package with a VBA project, ActiveX/OLE `.bin` parts or a macroEnabled  |
 * |                          |          | content type                                                            |
 * | `encrypted_archive`      | builtin  | a ZIP entry is encrypted (its contents cannot be inspected)             |
 * | `unscannable_archive`    | builtin  | a ZIP whose central directory is malformed, inconsistent with its local |
 * |                          |          | headers, or beyond the inspection limits (entries, directory size)      |
 * | `polyglot`               | builtin  | a PDF, JPEG, PNG or GIF that also carries a ZIP archive                 |
 * | `pdf_javascript`         | builtin  | a PDF with a `/JS` or `/JavaScript` name outside its streams            |
 * | `clamav:<signature>`     | clamav   | clamd reported `<signature> FOUND`                                      |
 *
 * A scanner that cannot give a verdict (clamd down, timed out, refused the stream)
 * throws ScannerUnavailableError: callers keep the file quarantined and retry later,
 * so an outage never lets a file through unscanned (fail closed).
 */

export type ScanVerdict = { clean: true } | { clean: false; reason: string };

export interface ScanTarget {
  /** The file on local disk. */
  path: string;
  /** Size in bytes as recorded by the upload; scanners trust the file system over it. */
  size: number;
  /** The name the uploader gave, for logs only: verdicts never depend on it. */
  filename?: string;
}

export interface Scanner {
  readonly name: string;
  /**
   * Resolves with a verdict, throws ScannerUnavailableError when no verdict can be
   * given, and rejects with the signal's reason when `signal` aborts.
   */
  scan(target: ScanTarget, signal?: AbortSignal): Promise<ScanVerdict>;
}

/** Thrown when a scanner cannot give a verdict (clamd down, timeout): callers hold the file and retry (fail closed). */
export class ScannerUnavailableError extends Error {
  override name = 'ScannerUnavailableError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export const CLEAN: ScanVerdict = Object.freeze({ clean: true });

export function infected(reason: string): ScanVerdict {
  return { clean: false, reason };
}

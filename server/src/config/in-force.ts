/**
 * The settings in force, for the administration screen (GET /api/v1/admin/settings):
 * every declared variable with its group, documentation and value, secrets redacted.
 * A secret value never leaves: variables declared `secret`, and any whose name looks like
 * one, show only whether they are set; URLs lose their credentials, query and fragment.
 */
import type { Variable } from './variable.js';
import { variables, type Config, type VariableName } from './variables.js';

export interface SettingInForce {
  name: string;
  group: string;
  doc: string;
  /** The value as text; null when unset or secret. */
  value: string | null;
  /** A secret: only `set` is shown. */
  secret: boolean;
  set: boolean;
  /** Part of the value was hidden (credentials in a URL). */
  redacted: boolean;
}

// A variable not declared secret by mistake is still hidden when its name says what it is.
const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSPHRASE|PRIVATE|CREDENTIAL|_KEYS?)$/;

/** Every variable in documentation order, with its value in force (secrets redacted). */
export function settingsInForce(config: Config): SettingInForce[] {
  return (Object.entries(variables) as [VariableName, Variable][]).map(([name, variable]) => {
    const raw: unknown = config[name];
    const set = raw !== undefined && raw !== null && raw !== '';
    const base = { name, group: variable.group, doc: variable.doc, set };
    if (variable.secret === true || SECRET_NAME.test(name)) return { ...base, value: null, secret: true, redacted: false };
    if (!set) return { ...base, value: null, secret: false, redacted: false };
    const { text, redacted } = display(raw);
    return { ...base, value: text, secret: false, redacted };
  });
}

function display(value: unknown): { text: string; redacted: boolean } {
  if (Array.isArray(value)) {
    const parts = value.map(display);
    return { text: parts.map((p) => p.text).join(', '), redacted: parts.some((p) => p.redacted) };
  }
  if (typeof value === 'string') return displayString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return { text: String(value), redacted: false };
  if (value && typeof value === 'object') {
    // Allow-list entries ({ kind, host | range, port }): shown as written in the variable.
    const entry = value as { host?: unknown; range?: unknown; port?: unknown };
    const where = typeof entry.host === 'string' ? entry.host : typeof entry.range === 'string' ? entry.range : null;
    if (where !== null) return { text: entry.port === undefined || entry.port === null ? where : `${where}:${String(entry.port)}`, redacted: false };
  }
  // Anything else is not shown: it could hold anything.
  return { text: '(set)', redacted: true };
}

function displayString(value: string): { text: string; redacted: boolean } {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { text: value, redacted: false };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { text: '(set)', redacted: true };
  }
  const redacted = url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '';
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  return { text: redacted ? url.toString() : value, redacted };
}

/**
 * undici's socket connector with the SSRF guard in it. The guard must see the port as
 * well as the resolved address (allowing `localhost:11434` must not allow
 * `localhost:6379`), but a DNS lookup function is never told the port, so each port
 * gets its own connector whose guarded lookup knows it.
 */
import { buildConnector } from 'undici';
import { parseIp } from './ip-address.js';
import { blockedAddressError, guardedLookup, type AddressPolicy } from './ssrf-guard.js';

// Ports a client has connected to, each with its connector (and TLS session cache).
// Bounded: a tool call can name any port, and the connectors are cheap to rebuild.
const MAX_PORTS = 64;

/**
 * A connector for an undici Agent that refuses, before any packet is sent, every
 * destination `policy` does not allow on the requested port; the NetError names
 * `setting` as the way to allow it.
 */
export function guardedConnector(policy: AddressPolicy, setting: string, timeoutMs: number): buildConnector.connector {
  const byPort = new Map<number, buildConnector.connector>();
  return (options, callback) => {
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    // Node connects to IP literals without a lookup, so they are judged here.
    if (parseIp(options.hostname) !== null && !policy(options.hostname, options.hostname, port)) {
      callback(blockedAddressError(options.hostname, port, setting), null);
      return;
    }
    let connect = byPort.get(port);
    if (!connect) {
      if (byPort.size >= MAX_PORTS) byPort.delete(byPort.keys().next().value!);
      connect = buildConnector({ timeout: timeoutMs, lookup: guardedLookup(policy, { port, setting }) });
      byPort.set(port, connect);
    }
    connect(options, callback);
  };
}

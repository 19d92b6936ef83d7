// oidc-provider ships no types; the tests use its constructor, listen() and callback() only.
declare module 'oidc-provider' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http';
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    listen(port: number): Server;
    /** The provider as a plain Node request handler. */
    callback(): (request: IncomingMessage, response: ServerResponse) => Promise<void>;
  }
}

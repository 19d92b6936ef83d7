/**
 * Names for the API's shapes, taken from its OpenAPI document: `schema.d.ts` is generated
 * from the server's route schemas (`npm run api:types`; CI checks it is current), so the
 * web app aliases the server's types instead of copying them.
 */
import type { components, paths } from './schema';

export type ApiPath = keyof paths;
type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';
type JsonOf<R> = R extends { content: { 'application/json': infer Body } } ? Body : never;
type Operation<P extends ApiPath, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON body of the `status` answer to `method path` (the path as documented, e.g. `/api/v1/agents/{id}`). */
export type ApiResponse<P extends ApiPath, M extends Method = 'get', S extends number = 200> = Operation<P, M> extends { responses: infer R } ? (S extends keyof R ? JsonOf<R[S]> : never) : never;

/** The JSON body `method path` accepts. */
export type ApiBody<P extends ApiPath, M extends Method> = Operation<P, M> extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;

/** The body of every 4xx/5xx answer. */
export type ErrorEnvelope = components['schemas']['ErrorEnvelope'];
/** The stable codes clients branch on. */
export type ErrorCode = ErrorEnvelope['error']['code'];

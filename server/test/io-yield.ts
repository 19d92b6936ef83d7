/**
 * PGlite answers a query through promise callbacks only, so an HTTP request on the
 * embedded backend runs from its first query to its response before the event loop
 * even parses the next request: races that PostgreSQL shows cannot show there. This
 * wrapper makes every query result wait for one turn of the event loop, as a result
 * read from a network socket does, so race tests interleave requests on both backends.
 */
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { Database } from '../src/platform/db/database.js';

class YieldAfterQuery implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    await new Promise((resolve) => setImmediate(resolve));
    return args.result;
  }
}

/** The same database; every query yields to the event loop once its result is in. Closing it closes nothing. */
export function yieldingDatabase(database: Database): Database {
  return { db: database.db.withPlugin(new YieldAfterQuery()), kind: database.kind, ping: () => database.ping(), close: async () => undefined };
}

// Hand-written minimal signed-in list reads: the same I/O as Bastion's GET /api/v1/agents,
// /conversations and /knowledge-bases (one Redis GET for the session, the same list query
// per route), no hardening, rows sent as pg returns them.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const [port, databaseUrl, redisUrl, sessionKey, userId, workspaceId] = process.argv.slice(2);
const redis = new Redis(redisUrl);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const app = Fastify({ logger: false });
const QUERIES = {
  agents: [
    'select a.*, (select v.config from agent_versions v where v.agent_id = a.id and v.version = a.current_version) as config from agents a where a.workspace_id = $1 and a.deleted_at is null order by a.updated_at desc limit 500',
    [workspaceId],
  ],
  conversations: ['select * from conversations where workspace_id = $1 and user_id = $2 order by updated_at desc limit 50', [workspaceId, userId]],
  'knowledge-bases': ['select * from knowledge_bases where workspace_id = $1 order by created_at limit 500', [workspaceId]],
};
for (const [name, [text, values]] of Object.entries(QUERIES)) {
  app.get(`/${name}`, async (request, reply) => {
    const session = await redis.get(sessionKey);
    if (!session) return reply.status(401).send({ error: 'unauthenticated' });
    const { rows } = await pool.query(text, values);
    return { [name]: rows };
  });
}
await app.listen({ host: '127.0.0.1', port: Number(port) });

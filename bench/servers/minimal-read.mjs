// Hand-written minimal authenticated read: the same I/O as GET /api/v1/me
// (one Redis GET for the session, one primary-key query), no hardening.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const [port, databaseUrl, redisUrl, sessionKey, userId] = process.argv.slice(2);
const redis = new Redis(redisUrl);
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const app = Fastify({ logger: false });
app.get('/me', async (request, reply) => {
  const session = await redis.get(sessionKey);
  if (!session) return reply.status(401).send({ error: 'unauthenticated' });
  const { rows } = await pool.query('select id, email, name, role from users where id = $1', [userId]);
  return rows[0];
});
await app.listen({ host: '127.0.0.1', port: Number(port) });

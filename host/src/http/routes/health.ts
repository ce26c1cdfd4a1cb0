import type { Metalplane } from '@metalplane/core';
import type { FastifyInstance } from 'fastify';

export async function healthRoutes(app: FastifyInstance, metalplane: Metalplane): Promise<void> {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], summary: 'The database answers and every plugin has started' } }, async (request, reply) => {
    const checks: Record<string, string> = {};
    checks['plugins'] = metalplane.state === 'running' ? 'ok' : `metalplane is ${metalplane.state}`;
    try {
      await metalplane.store.ping();
      checks['database'] = 'ok';
    } catch (error) {
      request.log.warn({ err: error }, 'readiness: database unreachable');
      checks['database'] = 'unreachable';
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}

import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { EventBus } from '@metalplane/core';
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../error-table.js';

/**
 * The registration image unknown machines boot, under /boot/registration/. Served with
 * Content-Length and Range, since iPXE is much slower without a length. When the image is
 * not built, every request says how to build it instead of a bare 404. Each file served is
 * announced (`boot.file-served`), so the boot plugin can put it on the machine's timeline.
 */
export async function registrationImageRoutes(app: FastifyInstance, directory: string, events: EventBus): Promise<void> {
  app.addHook('onResponse', async (request, reply) => {
    const length = Number(reply.getHeader('content-length'));
    events.emit('boot.file-served', {
      path: request.url.split('?')[0]!,
      remoteAddress: request.ip,
      status: reply.statusCode,
      bytes: request.method === 'HEAD' || !Number.isFinite(length) ? null : length,
      durationMs: Math.round(reply.elapsedTime),
    });
  });
  if (existsSync(directory)) {
    await app.register(fastifyStatic, { root: directory, prefix: '/boot/registration/', decorateReply: false, index: false, list: false });
    return;
  }
  app.log.warn({ directory }, 'registration image not built: unknown machines cannot enroll by netboot');
  app.get('/boot/registration/*', async (_request, reply) =>
    reply
      .code(404)
      .send(
        errorBody('not_found', `the registration image is not built (looked in ${directory}); run: npm run build:image -w @metalplane/agent`),
      ),
  );
}

import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../error-table.js';

/**
 * The registration image unknown machines boot, under /boot/registration/. Served with
 * Content-Length and Range, since iPXE is much slower without a length. When the image is
 * not built, every request says how to build it instead of a bare 404.
 */
export async function registrationImageRoutes(app: FastifyInstance, directory: string): Promise<void> {
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

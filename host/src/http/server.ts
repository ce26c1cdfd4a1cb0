import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { InputError, MetalplaneError, type Metalplane } from '@metalplane/core';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { bodyFor, errorBody, statusFor } from './error-table.js';
import { bootIntentRoutes } from './routes/boot-intents.js';
import { bootProfileRoutes } from './routes/boot-profiles.js';
import { buildRoutes } from './routes/builds.js';
import { enrollRoutes, type EnrollmentAction } from './routes/enroll.js';
import { healthRoutes } from './routes/health.js';
import { ipamRoutes } from './routes/ipam.js';
import { machineRoutes } from './routes/machines.js';
import { registrationImageRoutes } from './routes/registration-image.js';
import { ErrorResponseSchema } from './schemas.js';
import { fieldErrors, validatorCompiler } from './validation.js';

export interface ServerOptions {
  readonly metalplane: Metalplane;
  readonly logger: FastifyBaseLogger;
  readonly bodyLimitBytes: number;
  readonly version: string;
  /** What a registration agent does after enrolling a machine that has nothing to netboot. */
  readonly enrollmentAction: EnrollmentAction;
  /** Absolute path of the registration image directory. */
  readonly registrationImageDirectory: string;
}

/** Client mistakes Fastify itself detects, by its error code. */
const fastifyClientErrors: Readonly<Record<string, { code: string; message: (e: FastifyError) => string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: () => 'request body is larger than the server accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: (e) => e.message },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_input', message: () => 'request body is empty but the content type is JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_input', message: (e) => `request body is not valid JSON: ${e.message}` },
};

/**
 * The HTTP API: core routes under `/api/v1`, each plugin's routes under
 * `/api/v1/plugins/<id>`, OpenAPI at `/docs`, health at `/healthz` and `/readyz`.
 * Every error leaves as `{ error: { code, message, details } }`.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { metalplane } = options;
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { strict: false } },
  });
  // While closing, answers tell keep-alive clients to go, so close() need not wait for them.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  // The API takes JSON only: a text/plain body is refused (415), not validated as a string.
  // A plugin that wants other types adds its own parser in its own context.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  // A request without a body is validated as an empty object, so required fields are named.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.routeOptions.schema?.body) request.body = {};
  });
  app.addSchema(ErrorResponseSchema);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof MetalplaneError) {
      const status = statusFor(error);
      if (status >= 500) request.log.error({ err: error }, error.message);
      return reply.code(status).send(bodyFor(error));
    }
    if (error.validation) {
      const errors = fieldErrors(error.validation, error.validationContext);
      const input = new InputError(`invalid request: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);
      return reply.code(400).send(bodyFor(input));
    }
    const known = error.code ? fastifyClientErrors[error.code] : undefined;
    const status = error.statusCode ?? 500;
    if (known) return reply.code(status).send(errorBody(known.code, known.message(error)));
    if (status >= 400 && status < 500) return reply.code(status).send(errorBody('invalid_input', error.message));
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send(errorBody('internal_error', 'internal error; the server log has the details'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'metalplane API', version: options.version, description: 'Bare-metal provisioning control plane' },
      tags: [
        { name: 'machines' },
        { name: 'enrollment' },
        { name: 'boot' },
        { name: 'builds' },
        { name: 'boot files' },
        { name: 'ipam' },
        { name: 'health' },
      ],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  await app.register(async (root) => healthRoutes(root, metalplane));
  await app.register(async (root) => registrationImageRoutes(root, options.registrationImageDirectory, metalplane.events));
  await app.register(
    async (api) => {
      await machineRoutes(api, metalplane);
      await enrollRoutes(api, metalplane, options.enrollmentAction);
      await buildRoutes(api, metalplane);
      await bootProfileRoutes(api, metalplane);
      await bootIntentRoutes(api, metalplane);
      await ipamRoutes(api, metalplane);
    },
    { prefix: '/api/v1' },
  );
  for (const plugin of metalplane.routes) {
    await app.register(plugin.routes, { prefix: plugin.prefix });
  }
  return app;
}

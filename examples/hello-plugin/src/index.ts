import { coreServices, createServiceRef, definePlugin } from '@metalplane/core';
import { Type } from '@sinclair/typebox';

/** The service this plugin provides; another plugin could require it by this ref. */
export interface Greeter {
  greet(name: string): string;
}

export const greeterRef = createServiceRef<Greeter>()({ id: 'example.greeter', description: 'says hello' });

/**
 * The smallest useful plugin: it provides a service, registers a route under its prefix
 * (`/api/v1/plugins/hello/greeting`), and logs when it starts and stops.
 */
export default definePlugin({
  id: 'hello',
  version: '0.1.0',
  description: 'An example plugin',
  configSchema: Type.Object(
    { greeting: Type.String({ minLength: 1, default: 'hello' }) },
    { additionalProperties: false },
  ),
  provides: { greeter: greeterRef },
  requires: { logger: coreServices.logger, http: coreServices.http, events: coreServices.events },
  setup({ config, deps }) {
    const greeter: Greeter = { greet: (name) => `${config.greeting}, ${name}` };
    let enrolled = 0;
    let unsubscribe: (() => void) | undefined;

    deps.http.register(async (app) => {
      app.get('/greeting', async (request) => {
        const { name } = request.query as { name?: string };
        return { message: greeter.greet(name ?? 'world'), enrolledSinceStart: enrolled };
      });
    });

    return {
      provides: { greeter },
      start() {
        unsubscribe = deps.events.on('machine.enrolled', () => {
          enrolled += 1;
        });
        deps.logger.info({}, 'hello plugin started');
      },
      stop() {
        unsubscribe?.();
        deps.logger.info({}, 'hello plugin stopped');
      },
    };
  },
});

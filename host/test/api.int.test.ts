import type { Build } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import { createMachine, createTestHost, expectError, useTestHost } from './support.js';

interface BuildResponse {
  build: Build;
  message: string | null;
}

describe.each(testDatabaseNames())('API (%s)', (engine) => {
  describe('health', () => {
    it('/healthz is 200 ok', async () => {
      const api = await createTestHost(engine);
      try {
        const res = await api.inject('/healthz');
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ status: 'ok' });
      } finally {
        await api.dispose();
      }
    });

    it('/readyz is 200 with its checks while running, 503 once metalplane has stopped', async () => {
      const api = await createTestHost(engine);
      try {
        const ready = await api.inject('/readyz');
        expect(ready.statusCode).toBe(200);
        expect(ready.json()).toEqual({ status: 'ready', checks: { plugins: 'ok', database: 'ok' } });

        await api.host.metalplane.stop();
        const stopped = await api.inject('/readyz');
        expect(stopped.statusCode).toBe(503);
        expect(stopped.json()).toEqual({
          status: 'not ready',
          checks: { plugins: 'metalplane is stopped', database: 'unreachable' },
        });
        // The API answers with a JSON error rather than hanging or crashing.
        expectError(await api.inject('/api/v1/machines'), 503, 'not_started');
        expect((await api.inject('/healthz')).statusCode).toBe(200);
      } finally {
        await expect(api.dispose()).resolves.toBeUndefined();
      }
    });
  });

  describe('OpenAPI', () => {
    const api = useTestHost(engine);

    it('serves an OpenAPI 3 document at /docs/json with the API paths', async () => {
      const res = await api.inject('/docs/json');
      expect(res.statusCode).toBe(200);
      const doc = res.json<{ openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, unknown>> }>();
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.info).toMatchObject({ title: 'metalplane API', version: expect.any(String) });
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/enroll',
          '/api/v1/machines',
          '/api/v1/machines/{id}',
          '/api/v1/machines/{id}/transitions',
          '/api/v1/machines/{id}/events',
          '/api/v1/machines/{id}/next-boot',
          '/api/v1/machines/{id}/build',
          '/api/v1/builds/{id}',
          '/api/v1/boot-profiles',
          '/api/v1/boot-profiles/{name}',
          '/api/v1/boot-intents',
          '/api/v1/boot-intents/{id}',
          '/healthz',
          '/readyz',
        ]),
      );
      expect(Object.keys(doc.paths['/api/v1/enroll']!)).toEqual(['post']);
      expect(Object.keys(doc.paths['/api/v1/machines/{id}/next-boot']!)).toEqual(['get']);
    });
  });

  describe('builds', () => {
    const api = useTestHost(engine);

    it('queues a build without a body: 202, pending, with a message that no builder is loaded', async () => {
      const machine = await createMachine(api);
      const res = await api.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/build` });
      expect(res.statusCode, res.body).toBe(202);
      const { build, message } = res.json<BuildResponse>();
      expect(build).toMatchObject({
        machineId: machine.id,
        status: 'pending',
        spec: {},
        artifacts: null,
        error: null,
        leaseOwner: null,
        finishedAt: null,
      });
      expect(message).toContain('no builder plugin is loaded');

      const got = await api.inject(`/api/v1/builds/${build.id}`);
      expect(got.statusCode).toBe(200);
      expect(got.json<BuildResponse>()).toEqual({ build, message });
    });

    it('queues a build with a builder-specific spec and keeps it as given', async () => {
      const machine = await createMachine(api);
      const spec = { configuration: 'hosts/node-01.nix', flake: { url: 'github:example/fleet', rev: 'abc123' }, debug: true };
      const res = await api.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/build`, payload: { spec } });
      expect(res.statusCode, res.body).toBe(202);
      const { build, message } = res.json<BuildResponse>();
      expect(build).toMatchObject({ machineId: machine.id, status: 'pending', spec });
      expect(message).toContain('no builder plugin is loaded');
      expect((await api.inject(`/api/v1/builds/${build.id}`)).json<BuildResponse>().build.spec).toEqual(spec);
    });

    it('is 404 for an unknown build or machine', async () => {
      expectError(await api.inject('/api/v1/builds/no-such-build'), 404, 'not_found');
      expectError(await api.inject({ method: 'POST', url: '/api/v1/machines/no-such-machine/build' }), 404, 'not_found');
    });
  });
});

import type { Machine } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import {
  allMachines,
  createMachine,
  errorPaths,
  expectError,
  expectInvalid,
  getMachine,
  newMac,
  postEnroll,
  seedPayload,
  useTestHost,
  type Response,
} from './support.js';

/** The default `server.bodyLimitBytes`. */
const ONE_MIB = 1024 * 1024;

describe.each(testDatabaseNames())('bad input is refused and stores nothing (%s)', (engine) => {
  const api = useTestHost(engine);

  /** Runs `send` and asserts the set of machines is exactly what it was before. */
  async function storesNothing(send: () => Promise<Response>): Promise<Response> {
    const before = await allMachines(api);
    const res = await send();
    expect(await allMachines(api)).toEqual(before);
    return res;
  }

  const enrollRaw = (payload: string, contentType = 'application/json') =>
    api.inject({ method: 'POST', url: '/api/v1/enroll', payload, headers: { 'content-type': contentType } });

  it('malformed JSON is 400 invalid_input', async () => {
    for (const body of ['{"mac_address": ', '{mac_address: "52:54:00:00:00:01"}', "{'a': 1}", '{"a":1}}']) {
      const res = await storesNothing(() => enrollRaw(body));
      const error = expectError(res, 400, 'invalid_input');
      expect(error.message).toContain('not valid JSON');
    }
  });

  it('an empty JSON body is 400 invalid_input', async () => {
    expectError(await storesNothing(() => enrollRaw('')), 400, 'invalid_input');
  });

  it('a JSON body that is not an object is 400', async () => {
    for (const body of ['[]', '"52:54:00:00:00:01"', '42', 'null']) {
      expectError(await storesNothing(() => enrollRaw(body)), 400, 'invalid_input');
    }
  });

  it('wrong types are 400 naming the path, with no coercion', async () => {
    expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: 5 })), '/body/mac_address');

    const cores = seedPayload([newMac()]) as unknown as { hardware: { cpu: Record<string, unknown> } };
    cores.hardware.cpu['cores'] = '8';
    const error = expectInvalid(await storesNothing(() => postEnroll(api, cores)), '/body/hardware/cpu/cores');
    expect(error.message).toContain('/body/hardware/cpu/cores');

    const rotational = seedPayload([newMac()]) as unknown as { hardware: { disks: Record<string, unknown>[] } };
    rotational.hardware.disks[1]!['rotational'] = 'false';
    expectInvalid(await storesNothing(() => postEnroll(api, rotational)), '/body/hardware/disks/1/rotational');

    expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: newMac(), service_tag: 12345 })), '/body/service_tag');
    expectInvalid(
      await storesNothing(() => postEnroll(api, { mac_address: newMac(), hardware: { cpu: { cores: -1 } } })),
      '/body/hardware/cpu/cores',
    );
    expectInvalid(
      await storesNothing(() => postEnroll(api, { mac_address: newMac(), hardware: { cpu: { cores: 8.5 } } })),
      '/body/hardware/cpu/cores',
    );
    expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: newMac(), hardware: { nics: {} } })), '/body/hardware/nics');
  });

  it('unknown fields, top-level and nested, are 400 naming them', async () => {
    expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: newMac(), extra: true })), '/body/extra');

    const nested = seedPayload([newMac()]) as unknown as { hardware: { cpu: Record<string, unknown> } };
    nested.hardware.cpu['bogus'] = 1;
    expectInvalid(await storesNothing(() => postEnroll(api, nested)), '/body/hardware/cpu/bogus');

    const inNic = { mac_address: newMac(), hardware: { nics: [{ mac_address: newMac(), vlan: 10 }] } };
    expectInvalid(await storesNothing(() => postEnroll(api, inNic)), '/body/hardware/nics/0/vlan');

    // Every offending field is named at once.
    const both = { mac_address: newMac(), extra: 1, hardware: { cpu: { bogus: 1, cores: 'x' } } };
    const error = expectError(await storesNothing(() => postEnroll(api, both)), 400, 'invalid_input');
    expect(errorPaths(error)).toEqual(expect.arrayContaining(['/body/extra', '/body/hardware/cpu/bogus', '/body/hardware/cpu/cores']));
  });

  it('a missing required field is 400 naming it', async () => {
    const noMac = seedPayload([newMac()]) as unknown as Record<string, unknown>;
    delete noMac['mac_address'];
    const error = expectInvalid(await storesNothing(() => postEnroll(api, noMac)), '/body/mac_address');
    expect(error.details['errors']).toContainEqual({ path: '/body/mac_address', message: 'is required' });

    // No body at all: validated as an empty object, so the missing field is still named.
    expectInvalid(await storesNothing(() => api.inject({ method: 'POST', url: '/api/v1/enroll' })), '/body/mac_address');
    expectInvalid(await storesNothing(() => postEnroll(api, {})), '/body/mac_address');
  });

  it('a MAC address that is not one is 400 naming /mac_address', async () => {
    for (const mac of ['not-a-mac', '52:54:00:00:00', '52:54:00:00:00:0g', '52:54:00:00:00:00:01']) {
      const error = expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: mac })), '/mac_address');
      expect(error.message).toContain(mac);
    }
    expectInvalid(await storesNothing(() => postEnroll(api, { mac_address: '' })), '/body/mac_address');
  });

  it('a body over the limit (1 MiB by default) is 413 payload_too_large', async () => {
    const machine = (await postEnroll(api, { mac_address: newMac() })).json<{ machine: { id: string } }>().machine;
    const patch = (hostname: string) =>
      api.inject({ method: 'PATCH', url: `/api/v1/machines/${machine.id}`, payload: { labels: { note: 'x' }, hostname } });
    expectError(await patch('x'.repeat(ONE_MIB)), 413, 'payload_too_large');
    // Just under the limit reaches validation (and fails it there, naming the field).
    expectInvalid(await patch('x'.repeat(ONE_MIB - 1024)), '/body/hostname');
  });

  it('enrollment takes up to 16 MiB (the raw facts of a large server) and no more', async () => {
    const huge = { mac_address: newMac(), hardware: { raw_data: { dmesg: 'x'.repeat(16 * ONE_MIB) } } };
    expectError(await storesNothing(() => postEnroll(api, huge)), 413, 'payload_too_large');
    const big = { mac_address: newMac(), hardware: { raw_data: { dmesg: 'x'.repeat(2 * ONE_MIB) } } };
    expect((await postEnroll(api, big)).statusCode).toBe(201);
  });

  it('a content type other than JSON is 415 unsupported_media_type', async () => {
    const json = JSON.stringify({ mac_address: newMac() });
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expectError(await storesNothing(() => enrollRaw(json, type)), 415, 'unsupported_media_type');
    }
    // The JSON type with parameters is still JSON.
    expect((await enrollRaw(json, 'application/json; charset=utf-8')).statusCode).toBe(201);
  });

  it('bad input to machine writes changes nothing', async () => {
    const machine: Machine = await createMachine(api);
    const url = `/api/v1/machines/${machine.id}`;
    const cases: [string, string, unknown, string][] = [
      ['PATCH', url, { hostname: 5 }, '/body/hostname'],
      ['PATCH', url, { labels: ['rack=a'] }, '/body/labels'],
      ['PATCH', url, { taints: [{ key: 'k', effect: 'Sometimes' }] }, '/body/taints/0/effect'],
      ['PATCH', url, { bootFromDisk: 'pxe' }, '/body/bootFromDisk'],
      ['PATCH', url, { resourceVersion: '1' }, '/body/resourceVersion'],
      ['PATCH', url, { phase: 'deployed' }, '/body/phase'],
      ['PUT', url, { resourceVersion: 0 }, '/body/resourceVersion'],
      ['PUT', url, { resourceVersion: machine.resourceVersion, roles: ['compute', 'compute'] }, '/body/roles'],
      ['POST', `${url}/transitions`, { transition: 5 }, '/body/transition'],
      ['POST', `${url}/transitions`, { to: 'maintenance', reason: 'x'.repeat(2001) }, '/body/reason'],
      ['POST', `${url}/build`, { spec: 'nixos' }, '/body/spec'],
      ['POST', `${url}/build`, { extra: 1 }, '/body/extra'],
    ];
    for (const [method, target, payload, path] of cases) {
      const res = await api.inject({ method: method as 'PATCH', url: target, payload: payload as object });
      expectInvalid(res, path);
    }
    const raw = await api.inject({ method: 'PATCH', url, payload: '{"hostname":', headers: { 'content-type': 'application/json' } });
    expectError(raw, 400, 'invalid_input');
    expect(await getMachine(api, machine.id)).toEqual(machine);
  });

  it('an unknown route is 404 with a JSON error body', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/nothing-here'],
      ['POST', '/api/v1/machines/x/reboot'],
      ['DELETE', '/api/v1/machines/x'],
      ['GET', '/'],
    ] as const) {
      const error = expectError(await api.inject({ method, url }), 404, 'not_found');
      expect(error.message).toBe(`no route ${method} ${url}`);
    }
    expect(expectError(await api.inject('/api/v1/nothing?secret=1'), 404, 'not_found').message).not.toContain('secret');
  });
});

import type { BootIntent, BootIntentSpec, BootPlan, BootProfile, BootProfileSpec, Machine } from '@metalplane/core';
import { testDatabaseNames } from '@metalplane/core/testing';
import { describe, expect, it } from 'vitest';
import { createMachine, expectError, expectInvalid, newMac, useTestHost, type Response, type TestHost } from './support.js';

const SCHEMATIC = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba';

const validSpecs: Record<BootProfileSpec['kind'], BootProfileSpec> = {
  talos: { kind: 'talos', schematic: SCHEMATIC, version: 'v1.9.5', arch: 'amd64', extraKernelArgs: ['talos.dashboard.disabled=1'] },
  nixos: { kind: 'nixos', extraKernelArgs: ['boot.shell_on_fail'] },
  kernel: {
    kind: 'kernel',
    kernel: 'https://boot.example.com/vmlinuz',
    initrd: ['https://boot.example.com/initrd.img', `artifact:${'ab'.repeat(32)}`],
    cmdline: 'console=ttyS0 ip=dhcp',
  },
  ipxe: { kind: 'ipxe', script: '#!ipxe\nchain https://boot.example.com/menu.ipxe' },
  localboot: { kind: 'localboot' },
};

function createProfile(api: TestHost, name: string, spec: unknown): Promise<Response> {
  return api.inject({ method: 'POST', url: '/api/v1/boot-profiles', payload: { name, spec } as Record<string, unknown> });
}

function createIntent(api: TestHost, spec: Record<string, unknown>): Promise<Response> {
  return api.inject({ method: 'POST', url: '/api/v1/boot-intents', payload: spec });
}

async function mustCreateIntent(api: TestHost, spec: BootIntentSpec): Promise<BootIntent> {
  const res = await createIntent(api, { ...spec });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<BootIntent>();
}

async function mustCreateProfile(api: TestHost, name: string, spec: BootProfileSpec): Promise<BootProfile> {
  const res = await createProfile(api, name, spec);
  expect(res.statusCode, res.body).toBe(201);
  return res.json<BootProfile>();
}

async function nextBoot(api: TestHost, machineId: string, query = ''): Promise<BootPlan> {
  const res = await api.inject(`/api/v1/machines/${machineId}/next-boot${query ? `?${query}` : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ machineId: string; plan: BootPlan }>();
  expect(body.machineId).toBe(machineId);
  return body.plan;
}

describe.each(testDatabaseNames())('boot API (%s)', (engine) => {
  describe('boot profiles', () => {
    const api = useTestHost(engine);

    it.each(Object.entries(validSpecs))('creates, gets and lists a valid %s profile', async (kind, spec) => {
      const name = `p-${kind}`;
      const res = await createProfile(api, name, spec);
      expect(res.statusCode, res.body).toBe(201);
      const profile = res.json<BootProfile>();
      expect(profile).toMatchObject({ name, spec, resourceVersion: 1 });

      const got = await api.inject(`/api/v1/boot-profiles/${name}`);
      expect(got.statusCode).toBe(200);
      expect(got.json<BootProfile>()).toEqual(profile);
      const list = (await api.inject('/api/v1/boot-profiles')).json<{ items: BootProfile[] }>();
      expect(list.items).toContainEqual(profile);
    });

    it.each([
      ['talos schematic that is not 64 hex chars', { ...validSpecs.talos, schematic: 'abc123' }, '/body/spec/schematic'],
      ['talos schematic in upper case', { ...validSpecs.talos, schematic: SCHEMATIC.toUpperCase() }, '/body/spec/schematic'],
      ['talos version without the v', { ...validSpecs.talos, version: '1.9.5' }, '/body/spec/version'],
      ['talos version without a patch number', { ...validSpecs.talos, version: 'v1.9' }, '/body/spec/version'],
      ['talos without a schematic', { kind: 'talos', version: 'v1.9.5' }, '/body/spec/schematic'],
      ['talos arch that does not exist', { ...validSpecs.talos, arch: 'riscv64' }, '/body/spec/arch'],
      ['kernel without a kernel', { kind: 'kernel', cmdline: 'x' }, '/body/spec/kernel'],
      ['kernel with an empty kernel', { kind: 'kernel', kernel: '' }, '/body/spec/kernel'],
      ['ipxe with an empty script', { kind: 'ipxe', script: '' }, '/body/spec/script'],
      ['localboot with an extra field', { kind: 'localboot', script: 'x' }, '/body/spec/script'],
      ['an unknown kind', { kind: 'windows' }, '/body/spec/kind'],
    ])('refuses a %s with 400 naming the field', async (_what, spec, path) => {
      const res = await createProfile(api, 'bad-profile', spec);
      expectInvalid(res, path);
      expectError(await api.inject('/api/v1/boot-profiles/bad-profile'), 404, 'not_found');
    });

    it('refuses a bad name with 400 naming it', async () => {
      for (const name of ['Talos', 'talos_1', '-talos', 'a'.repeat(64)]) {
        expectInvalid(await createProfile(api, name, validSpecs.localboot), '/body/name');
      }
      expectInvalid(await api.inject('/api/v1/boot-profiles/Not_A_Name'), '/params/name');
    });

    it('refuses a duplicate name with 409 conflict and keeps the first', async () => {
      const first = await mustCreateProfile(api, 'dup', validSpecs.localboot);
      expectError(await createProfile(api, 'dup', validSpecs.ipxe), 409, 'conflict');
      expect((await api.inject('/api/v1/boot-profiles/dup')).json<BootProfile>()).toEqual(first);
    });

    it('replaces a profile (PUT), refusing a stale resourceVersion', async () => {
      const created = await mustCreateProfile(api, 'replace-me', validSpecs.localboot);
      const put = (body: Record<string, unknown>) => api.inject({ method: 'PUT', url: '/api/v1/boot-profiles/replace-me', payload: body });

      const res = await put({ spec: validSpecs.kernel, resourceVersion: created.resourceVersion });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<BootProfile>()).toMatchObject({ spec: validSpecs.kernel, resourceVersion: 2 });

      expectError(await put({ spec: validSpecs.ipxe, resourceVersion: created.resourceVersion }), 409, 'conflict');
      expectInvalid(await put({ spec: { kind: 'talos', schematic: 'x', version: 'v1.0.0' } }), '/body/spec/schematic');
      expect((await api.inject('/api/v1/boot-profiles/replace-me')).json<BootProfile>().spec).toEqual(validSpecs.kernel);

      const unconditional = await put({ spec: validSpecs.ipxe });
      expect(unconditional.json<BootProfile>()).toMatchObject({ spec: validSpecs.ipxe, resourceVersion: 3 });
      expectError(
        await api.inject({ method: 'PUT', url: '/api/v1/boot-profiles/nope', payload: { spec: validSpecs.ipxe } }),
        404,
        'not_found',
      );
    });

    it('deletes a profile (204, then 404), and refuses while an intent uses it (409)', async () => {
      await mustCreateProfile(api, 'in-use', validSpecs.localboot);
      const intent = await mustCreateIntent(api, { selector: { mac: newMac() }, profile: 'in-use', mode: 'always' });

      const refused = expectError(await api.inject({ method: 'DELETE', url: '/api/v1/boot-profiles/in-use' }), 409, 'conflict');
      expect(refused.details['intentId']).toBe(intent.id);
      expect((await api.inject('/api/v1/boot-profiles/in-use')).statusCode).toBe(200);

      expect((await api.inject({ method: 'DELETE', url: `/api/v1/boot-intents/${intent.id}` })).statusCode).toBe(204);
      const deleted = await api.inject({ method: 'DELETE', url: '/api/v1/boot-profiles/in-use' });
      expect(deleted.statusCode, deleted.body).toBe(204);
      expect(deleted.body).toBe('');
      expectError(await api.inject('/api/v1/boot-profiles/in-use'), 404, 'not_found');
      expectError(await api.inject({ method: 'DELETE', url: '/api/v1/boot-profiles/in-use' }), 404, 'not_found');
    });
  });

  describe('boot intents', () => {
    const api = useTestHost(engine);

    it('creates, gets, lists, replaces and deletes an intent', async () => {
      await mustCreateProfile(api, 'kernel', validSpecs.kernel);
      await mustCreateProfile(api, 'disk', validSpecs.localboot);
      const mac = newMac();
      const spec: BootIntentSpec = { selector: { mac }, profile: 'kernel', mode: 'once', maxAttempts: 3, expiresAt: '2099-01-01T00:00:00.000Z' };

      const intent = await mustCreateIntent(api, spec);
      expect(intent).toMatchObject({ spec, attempts: 0, consumedAt: null, resourceVersion: 1 });
      expect(intent.id).toEqual(expect.any(String));
      expect((await api.inject(`/api/v1/boot-intents/${intent.id}`)).json<BootIntent>()).toEqual(intent);
      expect((await api.inject('/api/v1/boot-intents')).json<{ items: BootIntent[] }>().items).toContainEqual(intent);

      const replacement = { selector: { labels: { rack: 'a' } }, profile: 'disk', mode: 'always' };
      const put = await api.inject({ method: 'PUT', url: `/api/v1/boot-intents/${intent.id}`, payload: { ...replacement, resourceVersion: 1 } });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json<BootIntent>()).toMatchObject({ id: intent.id, spec: replacement, resourceVersion: 2 });
      const stale = await api.inject({ method: 'PUT', url: `/api/v1/boot-intents/${intent.id}`, payload: { ...spec, resourceVersion: 1 } });
      expectError(stale, 409, 'conflict');

      const del = await api.inject({ method: 'DELETE', url: `/api/v1/boot-intents/${intent.id}` });
      expect(del.statusCode).toBe(204);
      expectError(await api.inject(`/api/v1/boot-intents/${intent.id}`), 404, 'not_found');
      expect((await api.inject('/api/v1/boot-intents')).json<{ items: BootIntent[] }>().items.map((i) => i.id)).not.toContain(intent.id);
    });

    it('refuses an intent naming an unknown profile with 400 naming /profile', async () => {
      const before = (await api.inject('/api/v1/boot-intents')).json<{ items: BootIntent[] }>().items;
      const res = await createIntent(api, { selector: { machineId: 'whatever' }, profile: 'no-such-profile', mode: 'once' });
      const error = expectInvalid(res, '/profile');
      expect(error.message).toContain('no-such-profile');
      expect((await api.inject('/api/v1/boot-intents')).json<{ items: BootIntent[] }>().items).toEqual(before);

      await mustCreateProfile(api, 'for-replace', validSpecs.localboot);
      const intent = await mustCreateIntent(api, { selector: { machineId: 'm' }, profile: 'for-replace', mode: 'always' });
      const put = await api.inject({
        method: 'PUT',
        url: `/api/v1/boot-intents/${intent.id}`,
        payload: { selector: { machineId: 'm' }, profile: 'gone', mode: 'always' },
      });
      expectInvalid(put, '/profile');
      expect((await api.inject(`/api/v1/boot-intents/${intent.id}`)).json<BootIntent>()).toEqual(intent);
    });

    it('refuses an empty label selector, which would select the whole fleet', async () => {
      await mustCreateProfile(api, 'fleet', validSpecs.localboot);
      const error = expectError(await createIntent(api, { selector: { labels: {} }, profile: 'fleet', mode: 'always' }), 400, 'invalid_input');
      expect(error.message).toContain('/body/selector');
    });

    it('refuses a label selector with an invalid key and stores nothing', async () => {
      await mustCreateProfile(api, 'keyed', validSpecs.localboot);
      const before = (await api.inject({ url: '/api/v1/boot-intents' })).json<{ items: unknown[] }>().items;
      const res = await createIntent(api, { selector: { labels: { 'bad key!': 'x' } }, profile: 'keyed', mode: 'always' });
      expect(expectError(res, 400, 'invalid_input').message).toContain('/body/selector');
      expect((await api.inject({ url: '/api/v1/boot-intents' })).json<{ items: unknown[] }>().items).toEqual(before);
    });

    it.each([
      ['no selector', { profile: 'fleet', mode: 'once' }, '/body/selector'],
      ['two selectors at once', { selector: { machineId: 'x', mac: '52:54:00:00:00:01' }, profile: 'fleet', mode: 'once' }, '/body/selector'],
      ['a MAC selector not in canonical form', { selector: { mac: '52-54-00-00-00-01' }, profile: 'fleet', mode: 'once' }, '/body/selector/mac'],
      ['an unknown mode', { selector: { machineId: 'x' }, profile: 'fleet', mode: 'twice' }, '/body/mode'],
      ['maxAttempts 0', { selector: { machineId: 'x' }, profile: 'fleet', mode: 'once', maxAttempts: 0 }, '/body/maxAttempts'],
      ['expiresAt that is not a date-time', { selector: { machineId: 'x' }, profile: 'fleet', mode: 'once', expiresAt: 'tomorrow' }, '/body/expiresAt'],
      ['an unknown field', { selector: { machineId: 'x' }, profile: 'fleet', mode: 'once', priority: 1 }, '/body/priority'],
    ])('refuses %s with 400 naming the field', async (_what, body, path) => {
      expectInvalid(await createIntent(api, body), path);
    });

    it('GET, PUT and DELETE of an unknown intent are 404', async () => {
      expectError(await api.inject('/api/v1/boot-intents/no-such-intent'), 404, 'not_found');
      expectError(await api.inject({ method: 'DELETE', url: '/api/v1/boot-intents/no-such-intent' }), 404, 'not_found');
      const put = await api.inject({
        method: 'PUT',
        url: '/api/v1/boot-intents/no-such-intent',
        payload: { selector: { machineId: 'x' }, profile: 'fleet', mode: 'once' },
      });
      expectError(put, 404, 'not_found');
    });
  });

  describe('GET /api/v1/machines/:id/next-boot', () => {
    const api = useTestHost(engine);

    async function machineWithKernelIntent(): Promise<{ machine: Machine; intent: BootIntent }> {
      const machine = await createMachine(api);
      const intent = await mustCreateIntent(api, { selector: { machineId: machine.id }, profile: 'kernel', mode: 'once' });
      return { machine, intent };
    }

    it('boots an enrolled machine without an intent from disk', async () => {
      await mustCreateProfile(api, 'kernel', validSpecs.kernel);
      await mustCreateProfile(api, 'talos', validSpecs.talos);
      const machine = await createMachine(api);
      const plan = await nextBoot(api, machine.id);
      expect(plan).toEqual({ kind: 'localboot', method: 'exit', reason: 'no boot intent: booting from disk' });
    });

    it('uses the machine\'s boot-from-disk method', async () => {
      const machine = await createMachine(api);
      const patched = await api.inject({ method: 'PATCH', url: `/api/v1/machines/${machine.id}`, payload: { bootFromDisk: 'sanboot' } });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(await nextBoot(api, machine.id)).toMatchObject({ kind: 'localboot', method: 'sanboot' });
    });

    it('chains PXE firmware (the default client) to iPXE, then the kernel of a once intent', async () => {
      const { machine, intent } = await machineWithKernelIntent();
      const plan = await nextBoot(api, machine.id);
      expect(plan.kind).toBe('chain');
      if (plan.kind !== 'chain') return;
      expect(plan).toMatchObject({ target: 'ipxe', firmware: 'unknown', intentId: intent.id, profileName: 'kernel' });
      expect(plan.next).toMatchObject({
        kind: 'kernel',
        kernel: 'https://boot.example.com/vmlinuz',
        initrd: validSpecs.kernel.kind === 'kernel' ? validSpecs.kernel.initrd : [],
        cmdline: 'console=ttyS0 ip=dhcp',
        intentId: intent.id,
        profileName: 'kernel',
      });
      expect(await nextBoot(api, machine.id, 'client=pxe-firmware&arch=uefi-x64')).toMatchObject({ kind: 'chain', firmware: 'uefi-x64' });
    });

    it('gives iPXE the kernel plan itself', async () => {
      const { machine, intent } = await machineWithKernelIntent();
      const plan = await nextBoot(api, machine.id, 'client=ipxe');
      expect(plan).toMatchObject({ kind: 'kernel', kernel: 'https://boot.example.com/vmlinuz', intentId: intent.id });
    });

    it('is only an answer: asking does not count an attempt or consume the intent', async () => {
      const { machine, intent } = await machineWithKernelIntent();
      for (let i = 0; i < 3; i++) await nextBoot(api, machine.id);
      expect((await api.inject(`/api/v1/boot-intents/${intent.id}`)).json<BootIntent>()).toMatchObject({ attempts: 0, consumedAt: null });
      const after = (await api.inject(`/api/v1/machines/${machine.id}`)).json<Machine>();
      expect(after.netboot.attemptsSinceProgress).toBe(0);
    });

    it('resolves a talos profile to Image Factory URLs for the asking architecture', async () => {
      const machine = await createMachine(api);
      await mustCreateIntent(api, { selector: { machineId: machine.id }, profile: 'talos', mode: 'always' });
      const plan = await nextBoot(api, machine.id, 'client=ipxe');
      expect(plan).toMatchObject({
        kind: 'kernel',
        kernel: `https://factory.talos.dev/image/${SCHEMATIC}/v1.9.5/kernel-amd64`,
        initrd: [`https://factory.talos.dev/image/${SCHEMATIC}/v1.9.5/initramfs-amd64.xz`],
      });
      if (plan.kind === 'kernel') expect(plan.cmdline).toContain('talos.platform=metal');
    });

    it('boots a machine in maintenance from disk even with an intent', async () => {
      const { machine } = await machineWithKernelIntent();
      const res = await api.inject({
        method: 'POST',
        url: `/api/v1/machines/${machine.id}/transitions`,
        payload: { transition: 'maintain', reason: 'PSU swap' },
      });
      expect(res.statusCode, res.body).toBe(200);
      for (const query of ['', 'client=ipxe']) {
        const plan = await nextBoot(api, machine.id, query);
        expect(plan.kind).toBe('localboot');
        expect(plan.reason).toContain('maintenance');
      }
    });

    it('is 404 for an unknown machine, 400 for an unknown client or arch', async () => {
      expectError(await api.inject('/api/v1/machines/no-such-machine/next-boot'), 404, 'not_found');
      const machine = await createMachine(api);
      expectInvalid(await api.inject(`/api/v1/machines/${machine.id}/next-boot?client=floppy`), '/querystring/client');
      expectInvalid(await api.inject(`/api/v1/machines/${machine.id}/next-boot?arch=sparc`), '/querystring/arch');
      expectInvalid(await api.inject(`/api/v1/machines/${machine.id}/next-boot?mac=${newMac()}`), '/querystring/mac');
    });
  });

  describe('boot timeline and re-arm', () => {
    const api = useTestHost(engine);

    it('lists what the boot services saw, newest first, and re-arms a held machine', async () => {
      const mac = newMac();
      const recorder = api.host.metalplane.bootRecorder;
      const machine = (await recorder.observe({ step: 'dhcp.discover', mac, discover: true, detail: { mode: 'proxy', arch: 'bios' } }))!;
      await recorder.observe({ step: 'ipxe.script', mac, detail: { planKind: 'registration' } });

      const res = await api.inject(`/api/v1/machines/${machine.id}/boot-timeline?limit=1`);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<{ items: { step: string; detail: Record<string, unknown> }[]; next: string | null }>();
      expect(page.items).toEqual([expect.objectContaining({ step: 'ipxe.script', detail: { planKind: 'registration' } })]);
      const rest = await api.inject(`/api/v1/machines/${machine.id}/boot-timeline?continue=${page.next}`);
      expect(rest.json<{ items: { step: string }[] }>().items.map((e) => e.step)).toEqual(['dhcp.discover']);

      const registration = (await nextBoot(api, machine.id, 'client=ipxe')) as BootPlan & { kind: 'registration' };
      for (let i = 0; i < 5; i++) await recorder.countNetboot(machine.id, registration);
      expect((await nextBoot(api, machine.id, 'client=ipxe')).kind).toBe('hold');
      const rearmed = await api.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/rearm` });
      expect(rearmed.statusCode, rearmed.body).toBe(200);
      expect(rearmed.json<Machine>().netboot).toEqual({ attemptsSinceProgress: 0, lastNetbootAt: expect.any(String) });
      expect((await nextBoot(api, machine.id, 'client=ipxe')).kind).toBe('registration');
    });

    it('an os-report of an installed OS ends a once install', async () => {
      const machine = await createMachine(api);
      await mustCreateProfile(api, 'os-report-kernel', validSpecs.kernel);
      const intent = await mustCreateIntent(api, { selector: { machineId: machine.id }, profile: 'os-report-kernel', mode: 'once' });
      const plan = await nextBoot(api, machine.id, 'client=ipxe');
      expect(plan.kind).toBe('kernel');
      await api.host.metalplane.bootRecorder.countNetboot(machine.id, plan);

      expectInvalid(await api.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/os-report`, payload: { state: 'fine' } }), '/body/state');
      const res = await api.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/os-report`, payload: { state: 'installed', detail: 'Talos v1.9.5' } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ consumedIntentId: string }>().consumedIntentId).toBe(intent.id);
      expect((await nextBoot(api, machine.id, 'client=ipxe')).kind).toBe('localboot');
    });

    it('is 404 for an unknown machine', async () => {
      expectError(await api.inject({ method: 'POST', url: '/api/v1/machines/no-such-machine/os-report', payload: { state: 'installed' } }), 404, 'not_found');
      expectError(await api.inject('/api/v1/machines/no-such-machine/boot-timeline'), 404, 'not_found');
      expectError(await api.inject({ method: 'POST', url: '/api/v1/machines/no-such-machine/rearm' }), 404, 'not_found');
    });
  });
});

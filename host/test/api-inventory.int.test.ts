import { testDatabaseNames } from '@metalplane/core/testing';
import type { Machine, SeedHardware } from '@metalplane/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectInvalid, newMac, useTestHost } from './support.js';

interface Page {
  items: Machine[];
  next: string | null;
}

const GiB = 2 ** 30;

/** A few machines with distinct hardware, enrolled through the seed payload. */
const fleet: Record<string, { label: string; hardware: SeedHardware }> = {
  bigNvme: {
    label: 'a',
    hardware: {
      cpu: { architecture: 'x86_64', threads: 128, cores: 64, sockets: 2 },
      memory: { total_bytes: 512 * GiB },
      disks: [{ device: '/dev/nvme0n1', size_bytes: 3.84e12 }, { device: '/dev/sda', rotational: true, size_bytes: 8e12 }],
      gpus: [{ vendor: 'NVIDIA Corporation', model: 'H100' }],
    },
  },
  smallSsd: {
    label: 'a',
    hardware: {
      cpu: { architecture: 'x86_64', threads: 8 },
      memory: { total_bytes: 16 * GiB },
      disks: [{ device: '/dev/sda', rotational: false, size_bytes: 480e9 }],
    },
  },
  pi: {
    label: 'b',
    hardware: { cpu: { architecture: 'aarch64', threads: 4 }, memory: { total_bytes: 8 * GiB }, disks: [{ device: '/dev/mmcblk0', type: 'SSD' }] },
  },
  piSmall: {
    label: 'a',
    hardware: { cpu: { architecture: 'aarch64', threads: 4 }, memory: { total_bytes: 4 * GiB } },
  },
};

describe.each(testDatabaseNames())('inventory queries (%s)', (engine) => {
  const api = useTestHost(engine);
  const ids: Record<string, string> = {};
  const rack = `rack-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    for (const [name, { label, hardware }] of Object.entries(fleet)) {
      const enrolled = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: newMac(), hardware } });
      expect(enrolled.statusCode).toBe(201);
      const machine = enrolled.json<{ machine: Machine }>().machine;
      const patched = await api.inject({ method: 'PATCH', url: `/api/v1/machines/${machine.id}`, payload: { labels: { rack, row: label } } });
      expect(patched.statusCode).toBe(200);
      ids[name] = machine.id;
    }
  });

  async function names(query: string): Promise<string[]> {
    const res = await api.inject({ url: `/api/v1/machines?label=rack=${rack}&${query}` });
    expect(res.statusCode, res.body).toBe(200);
    const found = res.json<Page>().items.map((m) => m.id);
    return Object.entries(ids)
      .filter(([, id]) => found.includes(id))
      .map(([name]) => name)
      .sort();
  }

  it.each([
    ['arch=arm64', ['pi', 'piSmall']],
    ['arch=aarch64', ['pi', 'piSmall']],
    ['arch=amd64', ['bigNvme', 'smallSsd']],
    ['minMemory=8Gi', ['bigNvme', 'pi', 'smallSsd']],
    ['minMemory=17179869185', ['bigNvme']],
    ['minCpus=16', ['bigNvme']],
    ['disk.type=nvme', ['bigNvme']],
    ['disk.type=ssd', ['pi', 'smallSsd']],
    ['disk.type=hdd', ['bigNvme']],
    ['gpu=true', ['bigNvme']],
    ['gpu=false', ['pi', 'piSmall', 'smallSsd']],
    ['arch=arm64&minMemory=8Gi&disk.type=ssd&label=row=b', ['pi']],
    ['arch=arm64&minMemory=8Gi&label=row=a', []],
  ])('?%s', async (query, expected) => {
    expect(await names(query)).toEqual(expected);
  });

  it('shows the hardware on the machine', async () => {
    const machine = (await api.inject({ url: `/api/v1/machines/${ids['bigNvme']}` })).json<Machine>();
    expect(machine.hardware.cpu).toMatchObject({ architecture: 'x86_64', threads: 128 });
    expect(machine.hardware.disks?.map((d) => d.type)).toEqual(['nvme', 'hdd']);
    expect(machine.hardware.gpus).toEqual([{ vendor: 'NVIDIA Corporation', model: 'H100' }]);
  });

  it('keeps the index current when the inventory changes', async () => {
    const mac = newMac();
    const first = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: mac, hardware: { memory: { total_bytes: 2 * GiB } } } });
    const id = first.json<{ machine: Machine }>().machine.id;
    await api.inject({ method: 'PATCH', url: `/api/v1/machines/${id}`, payload: { labels: { rack: `${rack}-upgrade` } } });
    const query = `/api/v1/machines?label=rack=${rack}-upgrade&minMemory=64Gi`;
    expect((await api.inject({ url: query })).json<Page>().items).toEqual([]);
    await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: mac, hardware: { memory: { total_bytes: 128 * GiB } } } });
    expect((await api.inject({ url: query })).json<Page>().items.map((m) => m.id)).toEqual([id]);
  });

  it.each([
    ['minMemory=lots', '/querystring/minMemory'],
    ['minCpus=zero', '/querystring/minCpus'],
    ['disk.type=floppy', '/querystring/disk.type'],
    ['gpu=maybe', '/querystring/gpu'],
  ])('refuses ?%s naming the field', async (query, path) => {
    expectInvalid(await api.inject({ url: `/api/v1/machines?${query}` }), path);
  });
});

describe.each(testDatabaseNames())('maintenance and drain through the API (%s)', (engine) => {
  const api = useTestHost(engine);

  it('goes maintenance -> draining -> offline and back to enrolled, with the outcome recorded', async () => {
    const enrolled = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: newMac() } });
    const id = enrolled.json<{ machine: Machine }>().machine.id;
    const transition = (payload: object) => api.inject({ method: 'POST', url: `/api/v1/machines/${id}/transitions`, payload });

    expect((await transition({ transition: 'drain' })).statusCode).toBe(409);
    expect((await transition({ to: 'maintenance', reason: 'replace PSU' })).json<Machine>().phase).toBe('maintenance');

    const next = await api.inject({ url: `/api/v1/machines/${id}/next-boot` });
    expect(next.json<{ plan: { kind: string } }>().plan.kind).toBe('localboot');

    const drained = await transition({ transition: 'drain', reason: 'replace PSU' });
    expect(drained.statusCode).toBe(200);
    const machine = drained.json<Machine>();
    expect(machine.phase).toBe('offline');
    expect(machine.conditions.find((c) => c.type === 'Drained')).toMatchObject({ status: 'True' });

    expect((await transition({ to: 'enrolled', reason: 'PSU replaced' })).json<Machine>().phase).toBe('enrolled');
    const events = (await api.inject({ url: `/api/v1/machines/${id}/events` })).json<{ items: { transition: string }[] }>();
    expect(events.items.map((e) => e.transition)).toEqual(['enroll', 'maintain', 'drain', 'take-offline', 'return-to-service']);
  });

  it('refuses a drain based on a stale resourceVersion', async () => {
    const enrolled = await api.inject({ method: 'POST', url: '/api/v1/enroll', payload: { mac_address: newMac() } });
    const id = enrolled.json<{ machine: Machine }>().machine.id;
    const inMaintenance = (
      await api.inject({ method: 'POST', url: `/api/v1/machines/${id}/transitions`, payload: { transition: 'maintain', reason: 'x' } })
    ).json<Machine>();
    const stale = await api.inject({
      method: 'POST',
      url: `/api/v1/machines/${id}/transitions`,
      payload: { transition: 'drain', resourceVersion: inMaintenance.resourceVersion - 1 },
    });
    expect(stale.statusCode).toBe(409);
    expect((await api.inject({ url: `/api/v1/machines/${id}` })).json<Machine>().phase).toBe('maintenance');
  });
});

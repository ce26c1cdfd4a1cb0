import { describe, expect, it } from 'vitest';
import type { IdentityKey, Machine } from '../model/machine.js';
import { matchIdentity, type IdentityDecision } from './identity-match.js';

const mac = (value: string): IdentityKey => ({ kind: 'mac', value });
const uuid = (value: string): IdentityKey => ({ kind: 'smbios-uuid', value });
const serial = (value: string): IdentityKey => ({ kind: 'serial', value });
const disk = (value: string): IdentityKey => ({ kind: 'disk-serial', value });
const rpi = (value: string): IdentityKey => ({ kind: 'rpi-serial', value });

function machine(id: string, identity: IdentityKey[], phase: Machine['phase'] = 'enrolled'): Machine {
  return {
    id,
    hostname: null,
    phase,
    identity,
    labels: {},
    roles: [],
    taints: [],
    conditions: [],
    hardware: {},
    bootFromDisk: 'exit',
    netboot: { attemptsSinceProgress: 0 },
    resourceVersion: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastSeenAt: null,
    inventoryReportedAt: null,
    addresses: [],
  };
}

const server = machine('server', [mac('aa:00:00:00:00:01'), mac('aa:00:00:00:00:02'), uuid('u-1'), serial('SRV1'), disk('D1'), disk('D2')]);
const other = machine('other', [mac('bb:00:00:00:00:01'), uuid('u-2'), serial('SRV2')]);
const dhcpA = machine('dhcp-a', [mac('cc:00:00:00:00:01')], 'discovered');
const dhcpB = machine('dhcp-b', [mac('cc:00:00:00:00:02')], 'discovered');
const vm = machine('vm', [mac('52:54:00:00:00:01'), uuid('u-vm')]);
const pi = machine('pi', [mac('dc:a6:32:00:00:01'), rpi('10000000a1b2c3d4')]);

type Expected =
  | { kind: 'new'; absorb?: string[] }
  | { kind: 'match'; machine: string; absorb?: string[]; replace?: IdentityKey[]; warning?: RegExp }
  | { kind: 'ambiguous'; candidates: string[]; reason: RegExp; absorb?: string[] };

const cases: Array<{ name: string; reported: IdentityKey[]; candidates: Machine[]; expected: Expected }> = [
  { name: 'nothing known: a new machine', reported: [mac('ee:00:00:00:00:01'), uuid('u-9')], candidates: [], expected: { kind: 'new' } },
  {
    name: 'the same machine again',
    reported: [mac('aa:00:00:00:00:01'), mac('aa:00:00:00:00:02'), uuid('u-1'), serial('SRV1'), disk('D1'), disk('D2')],
    candidates: [server],
    expected: { kind: 'match', machine: 'server' },
  },
  {
    name: 're-enrolled by one MAC only (seed payload without serial)',
    reported: [mac('aa:00:00:00:00:02')],
    candidates: [server],
    expected: { kind: 'match', machine: 'server' },
  },
  {
    name: 'NIC swapped: UUID and serial agree, no MAC is shared',
    reported: [mac('aa:00:00:00:00:99'), uuid('u-1'), serial('SRV1'), disk('D1'), disk('D2')],
    candidates: [server],
    expected: { kind: 'match', machine: 'server', warning: /none of the machine's known MACs was reported/ },
  },
  {
    name: 'disk swapped: one disk serial is new',
    reported: [mac('aa:00:00:00:00:01'), mac('aa:00:00:00:00:02'), uuid('u-1'), serial('SRV1'), disk('D1'), disk('D9')],
    candidates: [server],
    expected: { kind: 'match', machine: 'server' },
  },
  {
    name: 'motherboard swapped: new UUID and onboard MACs, same service tag and disks',
    reported: [mac('aa:00:00:00:00:77'), uuid('u-new'), serial('SRV1'), disk('D1'), disk('D2')],
    candidates: [server],
    expected: { kind: 'match', machine: 'server', replace: [uuid('u-1')], warning: /smbios-uuid changed from u-1 to u-new/ },
  },
  {
    name: 'two NICs seen by DHCP before enrollment: both records fold into one',
    reported: [mac('cc:00:00:00:00:01'), mac('cc:00:00:00:00:02'), uuid('u-5'), serial('SRV5')],
    candidates: [dhcpA, dhcpB],
    expected: { kind: 'match', machine: 'dhcp-a', absorb: ['dhcp-b'] },
  },
  {
    name: 'a DHCP record of one NIC of an already enrolled machine is absorbed',
    reported: [mac('aa:00:00:00:00:01'), mac('cc:00:00:00:00:01'), uuid('u-1'), serial('SRV1')],
    candidates: [server, dhcpA],
    expected: { kind: 'match', machine: 'server', absorb: ['dhcp-a'] },
  },
  {
    name: 'cloned VM: same SMBIOS UUID, every MAC different',
    reported: [mac('52:54:00:00:00:99'), uuid('u-vm')],
    candidates: [vm],
    expected: { kind: 'ambiguous', candidates: ['vm'], reason: /partly match machine vm \(smbios-uuid matches, no MAC shared\)/ },
  },
  {
    name: 'the clone again, once it has a record of its own (its MACs, no UUID)',
    reported: [mac('52:54:00:00:00:99'), uuid('u-vm')],
    candidates: [vm, machine('clone', [mac('52:54:00:00:00:99')])],
    expected: { kind: 'match', machine: 'clone' },
  },
  {
    name: 'a MAC of one machine with the serial and UUID of no machine: contradicting strong keys',
    reported: [mac('aa:00:00:00:00:01'), uuid('u-other'), serial('SRV-OTHER')],
    candidates: [server],
    expected: { kind: 'ambiguous', candidates: ['server'], reason: /smbios-uuid differs, serial differs/ },
  },
  {
    name: 'ambiguous, but the records DHCP made from its own NICs are still its own',
    reported: [mac('cc:00:00:00:00:01'), mac('cc:00:00:00:00:02'), uuid('u-1'), serial('SRV-OTHER')],
    candidates: [server, dhcpA, dhcpB],
    expected: { kind: 'ambiguous', candidates: ['server'], reason: /serial differs/, absorb: ['dhcp-a', 'dhcp-b'] },
  },
  {
    name: 'keys of two different machines',
    reported: [mac('aa:00:00:00:00:01'), mac('bb:00:00:00:00:01'), uuid('u-1'), serial('SRV2')],
    candidates: [server, other],
    expected: { kind: 'ambiguous', candidates: ['server', 'other'], reason: /match 2 machines/ },
  },
  {
    name: 'Raspberry Pi found by its board serial after its MAC changed',
    reported: [mac('dc:a6:32:00:00:99'), rpi('10000000a1b2c3d4')],
    candidates: [pi],
    expected: { kind: 'match', machine: 'pi', warning: /none of the machine's known MACs was reported.*rpi-serial matches/ },
  },
];

function summarise(decision: IdentityDecision): Expected {
  switch (decision.kind) {
    case 'new':
      return { kind: 'new', absorb: decision.absorb.map((m) => m.id) };
    case 'match':
      return {
        kind: 'match',
        machine: decision.machine.id,
        absorb: decision.absorb.map((m) => m.id),
        replace: [...decision.replace],
        ...(decision.warnings.length > 0 ? { warning: new RegExp('') } : {}),
      };
    case 'ambiguous':
      return { kind: 'ambiguous', candidates: decision.candidates.map((m) => m.id), reason: new RegExp('') };
  }
}

describe('matchIdentity', () => {
  it.each(cases)('$name', ({ reported, candidates, expected }) => {
    const decision = matchIdentity(reported, candidates);
    const summary = summarise(decision);
    expect(summary.kind).toBe(expected.kind);
    if (decision.kind === 'match' && expected.kind === 'match') {
      expect(decision.machine.id).toBe(expected.machine);
      expect(decision.absorb.map((m) => m.id)).toEqual(expected.absorb ?? []);
      expect(decision.replace).toEqual(expected.replace ?? []);
      if (expected.warning) expect(decision.warnings.join('\n')).toMatch(expected.warning);
      else expect(decision.warnings).toEqual([]);
    }
    if (decision.kind === 'ambiguous' && expected.kind === 'ambiguous') {
      expect(decision.candidates.map((m) => m.id)).toEqual(expected.candidates);
      expect(decision.reason).toMatch(expected.reason);
      expect(decision.absorb.map((m) => m.id)).toEqual(expected.absorb ?? []);
    }
    if (decision.kind === 'new' && expected.kind === 'new') expect(decision.absorb.map((m) => m.id)).toEqual(expected.absorb ?? []);
  });
});

import { describe, expect, it } from 'vitest';
import type { Machine } from '../model/machine.js';
import { ActivePhases, MachinePhases, type MachinePhase } from './phases.js';
import { findTransition, transitionBetween, transitionsFrom, transitionTable } from './transitions.js';

/** Phases reachable from `start` by any sequence of transitions (guards aside). */
function reachableFrom(start: MachinePhase): Set<MachinePhase> {
  const seen = new Set<MachinePhase>([start]);
  const queue: MachinePhase[] = [start];
  for (let phase = queue.shift(); phase !== undefined; phase = queue.shift()) {
    for (const t of transitionTable) {
      if ((t.from as readonly MachinePhase[]).includes(phase) && !seen.has(t.to)) {
        seen.add(t.to);
        queue.push(t.to);
      }
    }
  }
  return seen;
}

const machine = { id: 'm-1', phase: 'deployed' } as Machine;

describe('transitionTable', () => {
  it('reaches every phase from discovered', () => {
    expect([...reachableFrom('discovered')].sort()).toEqual([...MachinePhases].sort());
  });

  it('names every transition once', () => {
    const names = transitionTable.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('uses only known phases and never loops a phase onto itself', () => {
    for (const t of transitionTable) {
      expect(MachinePhases).toContain(t.to);
      for (const from of t.from) expect(MachinePhases).toContain(from);
      expect(t.from).not.toContain(t.to);
    }
  });

  it('has no way out of retired', () => {
    expect(transitionsFrom('retired')).toEqual([]);
    expect([...reachableFrom('retired')]).toEqual(['retired']);
  });

  it.each(ActivePhases)('reaches maintenance from %s directly, with maintain', (phase) => {
    expect(transitionBetween(phase, 'maintenance')?.name).toBe('maintain');
  });

  it.each(MachinePhases.filter((p) => p !== 'retired'))('lets %s be retired and (unless failed) fail', (phase) => {
    expect(transitionBetween(phase, 'retired')?.name).toBe('retire');
    expect(transitionBetween(phase, 'failed')?.name).toBe(phase === 'failed' ? undefined : 'fail');
  });

  it.each(MachinePhases)('leads from %s to each phase by at most one transition, so `to` is unambiguous', (phase) => {
    const targets = transitionTable.filter((t) => (t.from as readonly MachinePhase[]).includes(phase)).map((t) => t.to);
    expect(new Set(targets).size).toBe(targets.length);
  });

  // The lifecycle of DESIGN.md, edge by edge: a change to the table must change this too.
  it.each([
    ['discovered', ['enroll', 'fail', 'retire']],
    ['enrolled', ['configure', 'maintain', 'fail', 'retire']],
    ['configured', ['build', 'provision', 'maintain', 'fail', 'retire']],
    ['building', ['build-succeeded', 'maintain', 'fail', 'retire']],
    ['ready', ['provision', 'maintain', 'fail', 'retire']],
    ['provisioning', ['deploy', 'maintain', 'fail', 'retire']],
    ['deployed', ['maintain', 'fail', 'retire']],
    ['maintenance', ['drain', 'return-to-service', 'fail', 'retire']],
    ['draining', ['take-offline', 'fail', 'retire']],
    ['offline', ['return-to-service', 'fail', 'retire']],
    ['failed', ['retry', 'retire']],
    ['retired', []],
  ] as const)('from %s allows exactly %j', (phase, names) => {
    expect(transitionsFrom(phase)).toEqual(names);
  });

  it.each([
    ['configured', 'provisioning', 'provision'],
    ['ready', 'provisioning', 'provision'],
    ['maintenance', 'enrolled', 'return-to-service'],
    ['offline', 'enrolled', 'return-to-service'],
    ['failed', 'enrolled', 'retry'],
    ['discovered', 'deployed', undefined],
    ['deployed', 'deployed', undefined],
    ['failed', 'maintenance', undefined],
  ] as const)('transitionBetween(%s, %s) is %s', (from, to, name) => {
    expect(transitionBetween(from, to)?.name).toBe(name);
  });

  it.each([
    ['maintain', null, 'a reason is required'],
    ['maintain', '  ', 'a reason is required'],
    ['maintain', 'fan noise', null],
    ['fail', null, 'a reason is required'],
    ['fail', 'disk died', null],
  ] as const)('guard of %s with reason %j answers %j', (name, reason, answer) => {
    expect(findTransition(name)?.guard?.({ machine, reason, actor: 'op' })).toBe(answer);
  });

  it('guards only maintain and fail', () => {
    expect(transitionTable.filter((t) => 'guard' in t).map((t) => t.name)).toEqual(['maintain', 'fail']);
  });

  it('findTransition answers undefined for an unknown name', () => {
    expect(findTransition('teleport')).toBeUndefined();
  });
});

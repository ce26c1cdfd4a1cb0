import type { IdentityKey, IdentityKind, Machine } from '../model/machine.js';

/**
 * Keys that name one machine on their own. A MAC does not: NICs move between machines,
 * and a DHCP server sees one machine as several MACs before it enrolls.
 */
const STRONG_KINDS = ['rpi-serial', 'smbios-uuid', 'serial'] as const satisfies readonly IdentityKind[];
type StrongKind = (typeof STRONG_KINDS)[number];

/**
 * How much one agreeing strong key counts. A Raspberry Pi serial is fused into the SoC and
 * cannot be copied; an SMBIOS UUID or serial can (VM clones, boards a technician re-flashed).
 */
const STRONG_WEIGHT: Readonly<Record<StrongKind, number>> = { 'rpi-serial': 2, 'smbios-uuid': 1, serial: 1 };

/** What a candidate has in common with the report, and where it contradicts it. */
export interface CandidateEvidence {
  readonly machine: Machine;
  /** Strong keys present on both sides with the same value. */
  readonly strongMatches: readonly StrongKind[];
  /** Strong keys present on both sides with different values. */
  readonly strongConflicts: readonly StrongKind[];
  /** Reported MACs the candidate holds, over all MACs either side has. */
  readonly macOverlap: number;
  /** The candidate has MACs, the report has MACs, and none of them are shared. */
  readonly macsDisjoint: boolean;
  readonly diskMatches: number;
  /** Independent pieces of evidence: each strong match (by its weight), shared MACs, shared disks. */
  readonly evidence: number;
}

export type IdentityDecision =
  | { readonly kind: 'new'; readonly absorb: readonly Machine[] }
  | {
      readonly kind: 'match';
      readonly machine: Machine;
      /** Records of the same machine made from single MACs before it enrolled. */
      readonly absorb: readonly Machine[];
      /** Strong keys of the machine that the report replaces (e.g. a new SMBIOS UUID). */
      readonly replace: readonly IdentityKey[];
      readonly warnings: readonly string[];
    }
  | {
      readonly kind: 'ambiguous';
      readonly candidates: readonly Machine[];
      readonly reason: string;
      /** Records made from this machine's own NICs before it enrolled: they belong to it whatever else is unclear. */
      readonly absorb: readonly Machine[];
    };

function valuesOf(keys: readonly IdentityKey[], kind: IdentityKind): string[] {
  return keys.filter((k) => k.kind === kind).map((k) => k.value);
}

export function evidenceFor(reported: readonly IdentityKey[], machine: Machine): CandidateEvidence {
  const strongMatches: StrongKind[] = [];
  const strongConflicts: StrongKind[] = [];
  for (const kind of STRONG_KINDS) {
    const mine = valuesOf(machine.identity, kind);
    const theirs = valuesOf(reported, kind);
    if (mine.length === 0 || theirs.length === 0) continue;
    if (theirs.some((v) => mine.includes(v))) strongMatches.push(kind);
    else strongConflicts.push(kind);
  }
  const myMacs = new Set(valuesOf(machine.identity, 'mac'));
  const reportedMacs = new Set(valuesOf(reported, 'mac'));
  const sharedMacs = [...reportedMacs].filter((m) => myMacs.has(m)).length;
  const allMacs = new Set([...myMacs, ...reportedMacs]).size;
  const myDisks = new Set(valuesOf(machine.identity, 'disk-serial'));
  const diskMatches = valuesOf(reported, 'disk-serial').filter((d) => myDisks.has(d)).length;
  const macOverlap = allMacs === 0 ? 0 : sharedMacs / allMacs;
  return {
    machine,
    strongMatches,
    strongConflicts,
    macOverlap,
    macsDisjoint: myMacs.size > 0 && reportedMacs.size > 0 && sharedMacs === 0,
    diskMatches,
    evidence: strongMatches.reduce((sum, kind) => sum + STRONG_WEIGHT[kind], 0) + (sharedMacs > 0 ? 1 : 0) + (diskMatches > 0 ? 1 : 0),
  };
}

/** A record DHCP made from one MAC before the machine enrolled: nothing but MACs, all reported now. */
function isShadow(machine: Machine, reported: readonly IdentityKey[]): boolean {
  const macs = new Set(valuesOf(reported, 'mac'));
  return (
    machine.phase === 'discovered' &&
    machine.identity.length > 0 &&
    machine.identity.every((k) => k.kind === 'mac' && macs.has(k.value))
  );
}

/**
 * Decides which stored machine (if any) a report of identity keys is. `candidates` are the
 * machines that hold at least one of the keys. The rules, in order:
 *
 * 1. Records DHCP made from single MACs of this machine before it enrolled are absorbed.
 * 2. A candidate that agrees on every strong key both sides have is the machine when it
 *    has some evidence and no rival does; strong keys it lacks are added.
 * 3. A candidate with a contradicting strong key is still the machine when at least two
 *    independent pieces of evidence agree (a replaced motherboard keeps its service tag
 *    and disks): the contradicted key is replaced, with a warning.
 * 4. Otherwise — one strong key with all MACs different (a cloned VM), a MAC with
 *    contradicting serials, two plausible candidates — it is ambiguous: never merged.
 */
export function matchIdentity(reported: readonly IdentityKey[], candidates: readonly Machine[]): IdentityDecision {
  const shadows = candidates.filter((c) => isShadow(c, reported));
  const real = candidates.filter((c) => !shadows.includes(c)).map((c) => evidenceFor(reported, c));
  if (real.length === 0) {
    // The oldest shadow becomes the machine; the others fold into it.
    const [first, ...rest] = shadows;
    return first ? { kind: 'match', machine: first, absorb: rest, replace: [], warnings: [] } : { kind: 'new', absorb: [] };
  }

  const consistent = real.filter((e) => e.strongConflicts.length === 0 && !(e.macsDisjoint && e.evidence < 2));
  if (consistent.length === 1 && consistent[0]!.evidence >= 1) {
    const winner = consistent[0]!;
    const rivals = real.filter((e) => e !== winner && e.evidence >= 2);
    if (rivals.length === 0) return { kind: 'match', machine: winner.machine, absorb: shadows, replace: [], warnings: macWarnings(winner) };
  }

  const strongEnough = real.filter((e) => e.evidence >= 2);
  if (strongEnough.length === 1 && consistent.length <= 1) {
    const winner = strongEnough[0]!;
    const replace = winner.machine.identity.filter((k) => (winner.strongConflicts as readonly string[]).includes(k.kind));
    const warnings = [
      ...winner.strongConflicts.map((kind) => {
        const before = valuesOf(winner.machine.identity, kind).join(', ');
        const after = valuesOf(reported, kind).join(', ');
        return `${kind} changed from ${before} to ${after} (hardware replaced?); matched by ${describe(winner)}`;
      }),
      ...macWarnings(winner),
    ];
    return { kind: 'match', machine: winner.machine, absorb: shadows, replace, warnings };
  }

  const reason =
    real.length > 1
      ? `the reported keys match ${real.length} machines (${real.map((e) => `${e.machine.id}: ${describe(e)}`).join('; ')})`
      : `the reported keys partly match machine ${real[0]!.machine.id} (${describe(real[0]!)}) but contradict it`;
  return { kind: 'ambiguous', candidates: real.map((e) => e.machine), reason, absorb: shadows };
}

function describe(e: CandidateEvidence): string {
  const parts = [
    ...e.strongMatches.map((k) => `${k} matches`),
    ...e.strongConflicts.map((k) => `${k} differs`),
    e.macOverlap > 0 ? `${Math.round(e.macOverlap * 100)}% of MACs shared` : e.macsDisjoint ? 'no MAC shared' : '',
    e.diskMatches > 0 ? `${e.diskMatches} disk serial(s) shared` : '',
  ];
  return parts.filter(Boolean).join(', ') || 'no evidence';
}

function macWarnings(e: CandidateEvidence): string[] {
  return e.macsDisjoint ? [`none of the machine's known MACs was reported (NICs replaced?); matched by ${describe(e)}`] : [];
}

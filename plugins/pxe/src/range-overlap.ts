import { addressToBigInt, candidateSpan, parsePrefix, type IpPool } from '@metalplane/core';
import type { DhcpSubnet } from './config.js';

/**
 * IP pools that could hand out an address of a `full`-mode dynamic range: the DHCP service
 * keeps its own leases and cannot see IP claims, so an overlap would give one address twice.
 * A pool is fine when its `range` stays clear of the dynamic range, or when one of its
 * `reserved` entries (or its gateway) covers the whole overlap. Pure; one line per problem.
 */
export function dynamicRangeOverlaps(subnets: readonly DhcpSubnet[], pools: readonly IpPool[]): string[] {
  const problems: string[] = [];
  for (const subnet of subnets) {
    if (!subnet.range) continue;
    const dynamic = { first: addressToBigInt(subnet.range.start), last: addressToBigInt(subnet.range.end) };
    for (const pool of pools) {
      const prefix = parsePrefix(pool.spec.cidr);
      if (!prefix || prefix.family !== 4) continue;
      // What the built-in IPAM itself would hand out: usable range ∩ `range`, minus reserved and gateway.
      const { span, excluded } = candidateSpan(prefix, pool.spec);
      const overlap = { first: max(span.first, dynamic.first), last: min(span.last, dynamic.last) };
      if (overlap.first > overlap.last) continue;
      const covered = excluded.some((reserved) => reserved.first <= overlap.first && reserved.last >= overlap.last);
      if (covered) continue;
      problems.push(
        `IP pool ${pool.name} (${pool.spec.cidr}) can hand out addresses of the DHCP dynamic range ${subnet.range.start}-${subnet.range.end}: ` +
          `give the pool a range clear of it, or reserve ${subnet.range.start}-${subnet.range.end} in the pool`,
      );
    }
  }
  return problems;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

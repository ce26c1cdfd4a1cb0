import type { Generated } from 'kysely';

/**
 * Table shapes as kysely sees them. JSON documents are stored as text and timestamps as
 * ISO-8601 UTC text on both engines, so one set of queries serves SQLite and PostgreSQL.
 */
export interface MachinesTable {
  id: string;
  hostname: string | null;
  phase: string;
  roles: string;
  taints: string;
  conditions: string;
  hardware: string;
  boot_from_disk: string;
  netboot: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
  last_seen_at: string | null;
  inventory_reported_at: string | null;
  arch: string | null;
  memory_bytes: number | string | null;
  cpu_threads: number | null;
  disk_types: Generated<string>;
  gpu_count: Generated<number>;
}

export interface MachineIdentitiesTable {
  kind: string;
  value: string;
  machine_id: string;
  created_at: string;
}

export interface MachineLabelsTable {
  machine_id: string;
  key: string;
  value: string;
}

export interface MachineEventsTable {
  id: string;
  machine_id: string;
  transition: string;
  from_phase: string;
  to_phase: string;
  actor: string;
  reason: string | null;
  created_at: string;
}

export interface BootProfilesTable {
  name: string;
  kind: string;
  spec: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export interface BootIntentsTable {
  id: string;
  profile: string;
  spec: string;
  attempts: Generated<number>;
  consumed_at: string | null;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export interface BuildsTable {
  id: string;
  machine_id: string;
  status: string;
  spec: string;
  artifacts: string | null;
  error: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface IpPoolsTable {
  name: string;
  provider: string;
  spec: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export interface IpClaimsTable {
  id: string;
  pool: string;
  owner_key: string;
  machine_id: string | null;
  spec: string;
  phase: string;
  address: string | null;
  status: string;
  resource_version: number;
  created_at: string;
  updated_at: string;
}

export interface IpAllocationsTable {
  pool: string;
  address: string;
  claim_id: string;
  created_at: string;
}

export interface BootEventsTable {
  id: string;
  machine_id: string;
  step: string;
  detail: string;
  created_at: string;
}

export interface DatabaseSchema {
  machines: MachinesTable;
  machine_identities: MachineIdentitiesTable;
  machine_labels: MachineLabelsTable;
  machine_events: MachineEventsTable;
  boot_profiles: BootProfilesTable;
  boot_intents: BootIntentsTable;
  builds: BuildsTable;
  ip_pools: IpPoolsTable;
  ip_claims: IpClaimsTable;
  ip_allocations: IpAllocationsTable;
  boot_events: BootEventsTable;
}

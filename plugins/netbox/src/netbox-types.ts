/**
 * The fields of NetBox objects this plugin reads: a structural subset of the 4.x
 * serializers (3.x and 4.x agree on all of them), not the whole API.
 */

export interface NetboxChoice<T extends string | number = string> {
  readonly value: T;
  readonly label: string;
}

export interface NetboxBrief {
  readonly id: number;
  readonly display?: string;
  readonly name?: string;
}

export interface NetboxTag {
  readonly id: number;
  readonly name: string;
  readonly slug: string;
  readonly color?: string;
  readonly description?: string;
}

export interface NetboxPrefix {
  readonly id: number;
  readonly prefix: string;
  readonly vrf: NetboxBrief | null;
  readonly status?: NetboxChoice;
  readonly is_pool?: boolean;
}

export interface NetboxIpRange {
  readonly id: number;
  readonly start_address: string;
  readonly end_address: string;
  readonly vrf: NetboxBrief | null;
  readonly status?: NetboxChoice;
  readonly mark_populated?: boolean;
}

export interface NetboxIpAddress {
  readonly id: number;
  /** CIDR text, e.g. `192.0.2.10/24`. */
  readonly address: string;
  readonly vrf: NetboxBrief | null;
  readonly status: NetboxChoice | string;
  readonly dns_name?: string;
  readonly description?: string;
  readonly tags: readonly (NetboxTag | { readonly slug: string; readonly id?: number })[];
  readonly assigned_object_type?: string | null;
  readonly assigned_object_id?: number | null;
}

export interface NetboxDeviceBrief extends NetboxBrief {
  readonly name: string;
}

export interface NetboxInterface {
  readonly id: number;
  readonly name: string;
  readonly device: NetboxDeviceBrief;
  readonly mac_address?: string | null;
}

export interface NetboxMacAddress {
  readonly id: number;
  readonly mac_address: string;
  readonly assigned_object_type: string | null;
  readonly assigned_object_id: number | null;
  readonly assigned_object?: { readonly id: number; readonly name?: string; readonly device?: NetboxDeviceBrief } | null;
}

/** `status` is `{value,label}` on read; older or odd servers send the bare value. */
export function choiceValue(choice: NetboxChoice | string | undefined | null): string | undefined {
  if (choice === undefined || choice === null) return undefined;
  return typeof choice === 'string' ? choice : choice.value;
}

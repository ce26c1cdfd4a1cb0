/**
 * Which REST-visible behaviours a NetBox release has (PROTOCOLS.md §1.1). The emulator models
 * the 4.x line; earlier versions only switch off what 4.x added.
 */
export interface NetboxFeatures {
  /** `major.minor`, sent as the `API-Version` header. */
  readonly apiVersion: string;
  readonly full: string;
  /** 4.0+: DRF 3.15 propagates `No <Model> matches the given query.` on 404. */
  readonly modelNotFoundMessage: boolean;
  /** 4.1+: `display_url` on objects. */
  readonly displayUrl: boolean;
  /** 4.1+: `LOGIN_REQUIRED` defaults to true. */
  readonly loginRequiredByDefault: boolean;
  /** 4.2+: `dcim.macaddress`; interface `mac_address` mirrors the primary MAC. Prefix `scope_*`. */
  readonly macAddressModel: boolean;
  /** 4.3+: `netbox-full-version` in `/api/status/`. */
  readonly statusFullVersion: boolean;
  /** 4.4+: `hostname` and `installed_apps` (was `installed-apps`) in `/api/status/`. */
  readonly statusHostname: boolean;
  /** 4.5+: `Bearer nbt_<key>.<token>` v2 tokens, `owner` fields, `/api/authentication-check/`. */
  readonly v2Tokens: boolean;
  /** 4.6+: ETag/If-Match, cursor pagination, `add_tags`/`remove_tags`, `prefix_length` on available-ips POST. */
  readonly netbox46: boolean;
}

export function parseVersion(version: string): readonly [number, number, number] {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!match) throw new TypeError(`NetBox emulator: version must look like "4.6.8", got "${version}"`);
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

export function featuresOf(version: string): NetboxFeatures {
  const [major, minor] = parseVersion(version);
  const atLeast = (maj: number, min: number): boolean => major > maj || (major === maj && minor >= min);
  return {
    apiVersion: `${major}.${minor}`,
    full: version,
    modelNotFoundMessage: atLeast(4, 0),
    displayUrl: atLeast(4, 1),
    loginRequiredByDefault: atLeast(4, 1),
    macAddressModel: atLeast(4, 2),
    statusFullVersion: atLeast(4, 3),
    statusHostname: atLeast(4, 4),
    v2Tokens: atLeast(4, 5),
    netbox46: atLeast(4, 6),
  };
}

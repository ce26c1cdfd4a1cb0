import { randomInt } from 'node:crypto';
import { ApiError, NOT_AUTHENTICATED, PERMISSION_DENIED } from './errors.js';
import { netContainsHost, parseHost } from './ip.js';
import type { NetboxStore, TokenRecord } from './store.js';

/**
 * NetBox API authentication and the token part of authorisation
 * (`netbox/api/authentication.py`; PROTOCOLS.md §1.2). Every failure is a 403 with
 * `{"detail": ...}`: DRF downgrades 401 because `SessionAuthentication` comes first.
 */

export type AuthResult = { readonly kind: 'anonymous' } | { readonly kind: 'token'; readonly token: TokenRecord };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** `users/constants.py` `TOKEN_PREFIX`. */
export const TOKEN_PREFIX = 'nbt_';

export function randomAlphanumeric(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}

/** The `Authorization` header value a client sends for this token. */
export function authorizationHeader(token: Pick<TokenRecord, 'version' | 'key' | 'plaintext'>): string {
  return token.version === 2 ? `Bearer ${TOKEN_PREFIX}${token.key ?? ''}.${token.plaintext}` : `Token ${token.plaintext}`;
}

function fail(message: string): never {
  throw new ApiError(403, { detail: message });
}

/** Reads the `Authorization` header; `clientIp` is what NetBox's `get_client_ip` would see. */
export function authenticate(store: NetboxStore, header: string | undefined, clientIp: string): AuthResult {
  // bytes.split(): runs of ASCII whitespace.
  const parts = (header ?? '').split(/[ \t\n\r\v\f]+/).filter((part) => part !== '');
  if (parts.length === 0) return { kind: 'anonymous' };
  const keyword = (parts[0] ?? '').toLowerCase();
  if (!store.features.v2Tokens) return authenticateLegacy(store, keyword, parts, clientIp);
  if (keyword !== 'token' && keyword !== 'bearer') return { kind: 'anonymous' };
  if (parts.length !== 2) {
    fail('Invalid authorization header: Must be in the form "Bearer <key>.<token>" or "Token <token>"');
  }
  const value = parts[1] ?? '';
  // The version comes from the prefix, not from the keyword.
  const version = value.startsWith(TOKEN_PREFIX) ? 2 : 1;
  let token: TokenRecord | undefined;
  if (version === 1) {
    token = [...store.tokens.values()].find((t) => t.version === 1 && t.plaintext === value);
  } else {
    const rest = value.slice(TOKEN_PREFIX.length);
    const dot = rest.indexOf('.');
    if (dot < 0) {
      fail("Invalid authorization header: Could not parse key from v2 token. Did you mean to use 'Token' instead of 'Bearer'?");
    }
    const key = rest.slice(0, dot);
    const plaintext = rest.slice(dot + 1);
    const byKey = [...store.tokens.values()].find((t) => t.version === 2 && t.key === key);
    // A right key with a wrong secret is reported like an unknown key (no key enumeration).
    token = byKey && byKey.plaintext === plaintext ? byKey : undefined;
  }
  if (!token) fail(`Invalid v${version} token`);
  if (token.allowedIps && !ipAllowed(token, clientIp)) {
    fail(`Source IP ${clientIp} is not permitted to authenticate using this token.`);
  }
  if (!token.enabled) fail('Token disabled');
  if (token.expires && token.expires.getTime() <= store.now().getTime()) fail('Token expired');
  return { kind: 'token', token };
}

/** NetBox ≤ 4.4: DRF `TokenAuthentication` with the `Token` keyword only. */
function authenticateLegacy(store: NetboxStore, keyword: string, parts: readonly string[], clientIp: string): AuthResult {
  if (keyword !== 'token') return { kind: 'anonymous' };
  if (parts.length === 1) fail('Invalid token header. No credentials provided.');
  if (parts.length > 2) fail('Invalid token header. Token string should not contain spaces.');
  const token = [...store.tokens.values()].find((t) => t.version === 1 && t.plaintext === parts[1]);
  if (!token) fail('Invalid token');
  if (token.allowedIps && !ipAllowed(token, clientIp)) fail(`Source IP ${clientIp} is not allowed to use this token.`);
  if (token.expires && token.expires.getTime() <= store.now().getTime()) fail('Token expired');
  return { kind: 'token', token };
}

function ipAllowed(token: TokenRecord, clientIp: string): boolean {
  const host = parseHost(clientIp.replace(/^::ffff:(?=\d+\.)/, ''));
  return host !== undefined && (token.allowedIps ?? []).some((net) => netContainsHost(net, host));
}

export interface AccessRules {
  /** `LOGIN_REQUIRED`. */
  readonly loginRequired: boolean;
  /** `EXEMPT_VIEW_PERMISSIONS`: `app.model` labels anonymous clients may read, or `'*'`. */
  readonly exemptViewPermissions: readonly string[];
}

/**
 * `TokenPermissions` (DjangoObjectPermissions + token write check). `permission` is the model
 * permission the request needs, e.g. `ipam.add_ipaddress`; `null` for views with no model.
 */
export function authorize(auth: AuthResult, method: string, permission: string | null, rules: AccessRules): void {
  const safe = SAFE_METHODS.has(method);
  if (auth.kind === 'anonymous') {
    if (!safe || rules.loginRequired) fail(NOT_AUTHENTICATED);
    if (permission !== null && !viewExempt(permission, rules)) fail(NOT_AUTHENTICATED);
    return;
  }
  if (!safe && !auth.token.writeEnabled) fail(PERMISSION_DENIED);
  if (permission !== null && auth.token.permissions && !auth.token.permissions.has(permission)) fail(PERMISSION_DENIED);
}

function viewExempt(permission: string, rules: AccessRules): boolean {
  const match = /^([a-z_]+)\.view_([a-z_]+)$/.exec(permission);
  if (!match) return false;
  return rules.exemptViewPermissions.some((label) => label === '*' || label === `${match[1]}.${match[2]}`);
}

/** Whether the caller may see objects of a model (parent lookups answer 404 otherwise). */
export function canView(auth: AuthResult, permission: string, rules: AccessRules): boolean {
  if (auth.kind === 'anonymous') return !rules.loginRequired && viewExempt(permission, rules);
  return auth.token.permissions === null || auth.token.permissions.has(permission);
}

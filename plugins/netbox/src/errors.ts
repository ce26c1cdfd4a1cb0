import { MetalplaneError } from '@metalplane/core';

/** What every NetBox error says about the request that failed (never a header, never the token). */
export interface NetboxRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly status?: number;
}

/**
 * Base of the client's errors. `code` is stable and greppable; `details` carries the
 * request (method, path, status) so an operator can find it in NetBox's own logs.
 */
export class NetboxError extends MetalplaneError {
  readonly request: NetboxRequestInfo;

  constructor(code: string, message: string, request: NetboxRequestInfo, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(code, message, { ...details, method: request.method, path: request.path, ...(request.status ? { status: request.status } : {}) }, options);
    this.request = request;
  }
}

/**
 * NetBox answered 403 `{"detail": ...}`: the token is missing, malformed, unknown, expired,
 * read-only, or its user lacks an object permission. `problem` says which of these it is.
 */
export class NetboxAuthError extends NetboxError {
  readonly problem: 'token' | 'permission';
  readonly detail: string;

  constructor(message: string, request: NetboxRequestInfo, problem: 'token' | 'permission', detail: string) {
    super('netbox_auth', message, request, { problem, detail });
    this.problem = problem;
    this.detail = detail;
  }
}

/** One field NetBox rejected (400), e.g. `{ field: 'address', messages: ['Duplicate IP address ...'] }`. */
export interface NetboxFieldError {
  readonly field: string;
  readonly messages: readonly string[];
}

/** NetBox rejected the request body or a filter (400), naming the fields. Never retried. */
export class NetboxValidationError extends NetboxError {
  readonly fieldErrors: readonly NetboxFieldError[];

  constructor(message: string, request: NetboxRequestInfo, fieldErrors: readonly NetboxFieldError[]) {
    super('netbox_validation', message, request, { fieldErrors });
    this.fieldErrors = fieldErrors;
  }
}

/** 404: the object does not exist, or the token's user may not see it (NetBox hides both the same way). */
export class NetboxNotFoundError extends NetboxError {
  constructor(message: string, request: NetboxRequestInfo) {
    super('netbox_not_found', message, request);
  }
}

/** 409 from an `available-*` endpoint: "Insufficient resources are available to satisfy the request". */
export class NetboxExhaustedError extends NetboxError {
  constructor(message: string, request: NetboxRequestInfo) {
    super('netbox_exhausted', message, request);
  }
}

/** Any other 409 (e.g. a delete blocked by dependent objects). */
export class NetboxConflictError extends NetboxError {
  constructor(message: string, request: NetboxRequestInfo) {
    super('netbox_conflict', message, request);
  }
}

/** Any other 4xx that is not worth retrying (405, 406, 412, ...). */
export class NetboxRequestError extends NetboxError {
  constructor(message: string, request: NetboxRequestInfo) {
    super('netbox_request_failed', message, request);
  }
}

/**
 * NetBox could not be reached or kept failing (5xx, 429, connection errors, timeouts) after
 * the client's bounded retries. `maybeApplied` is true when a non-idempotent request may
 * have reached NetBox (the connection broke after it was sent, or a 5xx came back): the
 * caller must look before it tries again.
 */
export class NetboxUnavailableError extends NetboxError {
  readonly attempts: number;
  readonly maybeApplied: boolean;

  constructor(message: string, request: NetboxRequestInfo, attempts: number, maybeApplied: boolean, options?: ErrorOptions) {
    super('netbox_unavailable', message, request, { attempts, maybeApplied }, options);
    this.attempts = attempts;
    this.maybeApplied = maybeApplied;
  }
}

/**
 * An answer that ends request handling early, with NetBox's (Django REST framework's) body
 * shape: `{"detail": "..."}` for 403/404/405/409, `{"field": ["msg"]}` or a list of those for
 * 400. Thrown anywhere in a handler; the emulator turns it into the response.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, body: unknown, headers: Record<string, string> = {}) {
    super(`NetBox emulator answer ${status}: ${JSON.stringify(body)}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** Field errors as DRF renders them: `{"field": ["msg", ...]}`. */
export type FieldErrors = Record<string, unknown>;

export function detail(status: number, message: string): ApiError {
  return new ApiError(status, { detail: message });
}

export function badRequest(errors: FieldErrors | readonly unknown[]): ApiError {
  return new ApiError(400, errors);
}

export const PERMISSION_DENIED = 'You do not have permission to perform this action.';
export const NOT_AUTHENTICATED = 'Authentication credentials were not provided.';
/** DRF's `NotFound` default, used when a lookup value is not even a valid primary key. */
export const NOT_FOUND = 'Not found.';

/** `get_object_or_404` through DRF 3.15+ (NetBox 4.x): the message names the model. */
export function notFound(modelName: string): ApiError {
  return detail(404, `No ${modelName} matches the given query.`);
}

/**
 * Every error core raises carries a stable, greppable `code` and structured `details`.
 * Only the host maps codes to HTTP statuses (one table there).
 */
export class MetalplaneError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A resource that was asked for by id or key does not exist. */
export class NotFoundError extends MetalplaneError {
  constructor(kind: string, id: string, details: Record<string, unknown> = {}) {
    super('not_found', `${kind} ${id} not found`, { kind, id, ...details });
  }
}

/** A write lost a race (stale resource version) or would break a uniqueness rule. */
export class ConflictError extends MetalplaneError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('conflict', message, details);
  }
}

/** A write based on `expected` when the stored resource version is already `actual`: re-read and retry. */
export function staleVersionError(kind: string, id: string, expected: number, actual: number): ConflictError {
  return new ConflictError(`${kind} ${id} was changed by someone else (resource version ${expected}, now ${actual})`, {
    kind,
    id,
    expectedResourceVersion: expected,
    resourceVersion: actual,
  });
}

/** Input that does not satisfy a schema or a rule; `details.errors` names each field. */
export class InputError extends MetalplaneError {
  constructor(message: string, errors: readonly FieldError[] = [], details: Record<string, unknown> = {}) {
    super('invalid_input', message, { ...details, errors });
  }
}

export interface FieldError {
  /** JSON pointer of the offending field, e.g. `/plugins/0/config/port`. */
  readonly path: string;
  readonly message: string;
}

/** A lifecycle transition that the transition table or its guard does not allow. */
export class InvalidTransitionError extends MetalplaneError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('invalid_transition', message, details);
  }
}

/** Something a plugin did (or failed to do) while core called it. */
export class PluginError extends MetalplaneError {
  readonly pluginId: string;
  readonly method: string;

  constructor(pluginId: string, method: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('plugin_error', `plugin ${pluginId} failed in ${method}: ${reason}`, { pluginId, method }, { cause });
    this.pluginId = pluginId;
    this.method = method;
  }
}

/** Configuration or plugin wiring that cannot work; lists every problem at once. */
export class ConfigurationError extends MetalplaneError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('invalid_configuration', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems });
    this.problems = problems;
  }
}

import { MetalplaneError, PluginError } from '@metalplane/core';

/** The one place error codes become HTTP statuses. */
const statusByCode: Readonly<Record<string, number>> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  invalid_transition: 409,
  pool_exhausted: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  plugin_error: 502,
  provider_missing: 503,
  not_started: 503,
  invalid_configuration: 500,
  migration_failed: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

/** A plugin's own typed error (its `cause`) decides the status, not the wrapper. */
function effective(error: MetalplaneError): MetalplaneError {
  return error instanceof PluginError && error.cause instanceof MetalplaneError ? error.cause : error;
}

export function statusFor(error: MetalplaneError): number {
  return statusByCode[effective(error).code] ?? 500;
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, details } };
}

export function bodyFor(error: MetalplaneError): ErrorBody {
  const cause = effective(error);
  const details = cause === error ? { ...error.details } : { ...cause.details, pluginId: (error as PluginError).pluginId };
  return errorBody(cause.code, error.message, details);
}

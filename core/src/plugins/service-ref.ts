/**
 * How core uses the providers of a service:
 * - `single`: exactly one provider must exist (or none, when the consumer marks it optional);
 * - `first-non-null`: every provider is asked in plugin order, the first non-null answer wins;
 * - `all`: every provider is called, in plugin order.
 */
export type Dispatch = 'single' | 'first-non-null' | 'all';

/**
 * A typed handle on a service: the token a plugin provides or requires. `T` is the
 * service's interface; `D` says how many providers there may be and how they are used.
 * `scope: 'plugin'` services (logger, http) are made anew for each plugin that asks.
 */
export interface ServiceRef<T, D extends Dispatch = Dispatch> {
  readonly id: string;
  readonly dispatch: D;
  readonly scope: 'root' | 'plugin';
  readonly description?: string;
  /** Never set; carries `T` for the type checker. */
  readonly $type?: T;
}

/** A requirement that may have no provider: resolves to `undefined` (single) or `[]`. */
export interface OptionalRef<T, D extends Dispatch = Dispatch> {
  readonly optional: true;
  readonly ref: ServiceRef<T, D>;
}

export function createServiceRef<T>() {
  return <D extends Dispatch = 'single'>(options: {
    id: string;
    dispatch?: D;
    scope?: 'root' | 'plugin';
    description?: string;
  }): ServiceRef<T, D> => ({
    id: options.id,
    dispatch: (options.dispatch ?? 'single') as D,
    scope: options.scope ?? 'root',
    ...(options.description ? { description: options.description } : {}),
  });
}

export function optional<T, D extends Dispatch>(ref: ServiceRef<T, D>): OptionalRef<T, D> {
  return { optional: true, ref };
}

export type AnyServiceRef = ServiceRef<any, Dispatch>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Requirement = AnyServiceRef | OptionalRef<any, Dispatch>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type ServiceType<R> = R extends ServiceRef<infer T, Dispatch> ? T : never;

/** What a requirement resolves to: one service for `single`, the ordered list otherwise. */
export type Resolved<R> =
  R extends OptionalRef<infer T, infer D>
    ? D extends 'single'
      ? T | undefined
      : readonly T[]
    : R extends ServiceRef<infer T, infer D>
      ? D extends 'single'
        ? T
        : readonly T[]
      : never;

export function refOf(requirement: Requirement): AnyServiceRef {
  return 'optional' in requirement ? requirement.ref : requirement;
}

export function isOptional(requirement: Requirement): boolean {
  return 'optional' in requirement;
}

/**
 * Asks providers in order and returns the first non-null answer (the `first-non-null`
 * dispatch rule), or null when every provider declines.
 */
export async function firstNonNull<T, R>(
  providers: readonly T[],
  ask: (provider: T) => Promise<R | null> | R | null,
): Promise<R | null> {
  for (const provider of providers) {
    const answer = await ask(provider);
    if (answer !== null && answer !== undefined) return answer;
  }
  return null;
}

/** Calls every provider in order (the `all` dispatch rule) and returns their answers. */
export async function callAll<T, R>(providers: readonly T[], call: (provider: T) => Promise<R> | R): Promise<R[]> {
  const answers: R[] = [];
  for (const provider of providers) answers.push(await call(provider));
  return answers;
}

import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Fault injection for tests: latency, 5xx, 429 and dropped connections on matching requests,
 * and "down" (the listening socket closed, connections refused) with `up()` on the same port.
 * NetBox itself never rate-limits or drops; these stand for its proxy, its database and the
 * network between.
 */

const Phase = Type.Union([Type.Literal('before'), Type.Literal('after')], {
  description: '`before`: the request never reaches NetBox. `after`: NetBox handled it (and committed), the answer is lost.',
});

function scheduled<T extends TProperties>(extra: T) {
  return Type.Union([
    Type.Object({ every: Type.Integer({ minimum: 1, description: 'every n-th matching request' }), ...extra }, { additionalProperties: false }),
    Type.Object({ probability: Type.Number({ minimum: 0, maximum: 1 }), ...extra }, { additionalProperties: false }),
    Type.Object({ count: Type.Integer({ minimum: 0, description: 'the next n matching requests' }), ...extra }, { additionalProperties: false }),
  ]);
}

export const FaultConfigSchema = Type.Object(
  {
    /** Added before every matching request is handled; `{min, max}` draws uniformly. */
    latencyMs: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 0 }),
        Type.Object({ min: Type.Integer({ minimum: 0 }), max: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
      ]),
    ),
    /** Answer 5xx (default 500, NetBox's JSON error body; 502/503/504 get a proxy's HTML page). */
    status5xx: Type.Optional(scheduled({ status: Type.Optional(Type.Integer({ minimum: 500, maximum: 599 })), phase: Type.Optional(Phase) })),
    /** Answer 429 with `Retry-After` (a rate-limiting proxy; NetBox has none). */
    status429: Type.Optional(scheduled({ retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 0 })) })),
    /** Destroy the connection without an answer: a number (the next n requests) or `{count, phase}`. */
    dropConnections: Type.Optional(
      Type.Union([
        Type.Integer({ minimum: 0 }),
        Type.Object({ count: Type.Integer({ minimum: 0 }), phase: Type.Optional(Phase) }, { additionalProperties: false }),
      ]),
    ),
    /** Limit faults to some requests; all requests match by default. */
    match: Type.Optional(
      Type.Object(
        {
          method: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
          /** The request path (without query) contains this. */
          path: Type.Optional(Type.String()),
          /** The request path matches this regular expression source. */
          pathPattern: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    /** Seed for `probability` draws and latency ranges, so a run can be repeated. */
    seed: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

export type FaultConfig = Static<typeof FaultConfigSchema>;

export interface FaultStats {
  /** Requests that matched `match` while a fault configuration was set. */
  readonly matched: number;
  readonly delayed: number;
  readonly status5xx: number;
  readonly status429: number;
  readonly dropped: number;
}

/** What to do to one request, decided when it arrives. */
export interface RequestFaults {
  readonly latencyMs: number;
  readonly before?: { readonly kind: 'drop' } | { readonly kind: 'status'; readonly status: number; readonly retryAfterSeconds?: number };
  readonly after?: { readonly kind: 'drop' } | { readonly kind: 'status'; readonly status: number };
}

/** What `down()`/`up()` act on; the emulator provides it. */
export interface ServerSwitch {
  close(): Promise<void>;
  reopen(): Promise<void>;
  readonly listening: boolean;
}

interface ScheduleState {
  seen: number;
  remaining: number;
}

export class NetboxFaults {
  #config: FaultConfig | undefined;
  #random: () => number = mulberry32(1);
  #matchPattern: RegExp | undefined;
  #schedules = new Map<string, ScheduleState>();
  #stats = { matched: 0, delayed: 0, status5xx: 0, status429: 0, dropped: 0 };
  readonly #server: ServerSwitch;

  constructor(server: ServerSwitch) {
    this.#server = server;
  }

  /** Replaces the fault configuration (and restarts its counters). Throws on an invalid one. */
  set(config: FaultConfig): void {
    if (!Value.Check(FaultConfigSchema, config)) {
      const problems = [...Value.Errors(FaultConfigSchema, config)].map((e) => `${e.path || '/'}: ${e.message}`);
      throw new TypeError(`NetBox emulator: invalid fault configuration: ${problems.join('; ')}`);
    }
    let pattern: RegExp | undefined;
    if (config.match?.pathPattern !== undefined) {
      try {
        pattern = new RegExp(config.match.pathPattern);
      } catch (error) {
        throw new TypeError(`NetBox emulator: invalid match.pathPattern: ${(error as Error).message}`, { cause: error });
      }
    }
    this.#config = structuredClone(config);
    this.#matchPattern = pattern;
    this.#random = mulberry32(config.seed ?? 1);
    this.#schedules = new Map();
    this.#stats = { matched: 0, delayed: 0, status5xx: 0, status429: 0, dropped: 0 };
  }

  /** Removes every fault (not "down": use `up()`). */
  clear(): void {
    this.#config = undefined;
    this.#matchPattern = undefined;
    this.#schedules = new Map();
  }

  get config(): Readonly<FaultConfig> | undefined {
    return this.#config;
  }

  stats(): FaultStats {
    return { ...this.#stats };
  }

  /** Closes the listening socket and every open connection: clients get `ECONNREFUSED`. */
  async down(): Promise<void> {
    if (this.#server.listening) await this.#server.close();
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (!this.#server.listening) await this.#server.reopen();
  }

  get isDown(): boolean {
    return !this.#server.listening;
  }

  /** @internal Decides the faults of one arriving request. */
  decide(method: string, path: string): RequestFaults {
    const config = this.#config;
    if (!config || !this.#matches(config, method, path)) return { latencyMs: 0 };
    this.#stats.matched++;
    let latencyMs = 0;
    if (typeof config.latencyMs === 'number') latencyMs = config.latencyMs;
    else if (config.latencyMs) {
      const { min, max } = config.latencyMs;
      latencyMs = Math.round(min + this.#random() * Math.max(0, max - min));
    }
    if (latencyMs > 0) this.#stats.delayed++;

    const drop = typeof config.dropConnections === 'number' ? { count: config.dropConnections } : config.dropConnections;
    const dropNow = drop ? this.#fires('drop', { count: drop.count }) : false;
    const limited = config.status429 ? this.#fires('429', config.status429) : false;
    const failed = config.status5xx ? this.#fires('5xx', config.status5xx) : false;

    let before: RequestFaults['before'];
    let after: RequestFaults['after'];
    if (dropNow) {
      this.#stats.dropped++;
      if ((drop?.phase ?? 'before') === 'before') before = { kind: 'drop' };
      else after = { kind: 'drop' };
    }
    if (!before && limited && config.status429) {
      this.#stats.status429++;
      before = { kind: 'status', status: 429, retryAfterSeconds: config.status429.retryAfterSeconds ?? 1 };
    }
    if (failed && config.status5xx) {
      const status = config.status5xx.status ?? 500;
      if ((config.status5xx.phase ?? 'before') === 'before') {
        if (!before) {
          before = { kind: 'status', status };
          this.#stats.status5xx++;
        }
      } else if (!after) {
        after = { kind: 'status', status };
        this.#stats.status5xx++;
      }
    }
    return { latencyMs, ...(before ? { before } : {}), ...(after ? { after } : {}) };
  }

  #matches(config: FaultConfig, method: string, path: string): boolean {
    const match = config.match;
    if (!match) return true;
    if (match.method !== undefined) {
      const methods = (Array.isArray(match.method) ? match.method : [match.method]).map((m) => m.toUpperCase());
      if (!methods.includes(method.toUpperCase())) return false;
    }
    if (match.path !== undefined && !path.includes(match.path)) return false;
    if (this.#matchPattern && !this.#matchPattern.test(path)) return false;
    return true;
  }

  #fires(name: string, schedule: { every?: number; probability?: number; count?: number }): boolean {
    let state = this.#schedules.get(name);
    if (!state) {
      state = { seen: 0, remaining: schedule.count ?? 0 };
      this.#schedules.set(name, state);
    }
    state.seen++;
    if (schedule.every !== undefined) return state.seen % schedule.every === 0;
    if (schedule.probability !== undefined) return this.#random() < schedule.probability;
    if (state.remaining > 0) {
      state.remaining--;
      return true;
    }
    return false;
  }
}

/** A small seeded PRNG (mulberry32), so probabilistic faults are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

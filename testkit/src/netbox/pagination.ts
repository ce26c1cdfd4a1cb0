import { ApiError } from './errors.js';

/**
 * NetBox list pagination (`netbox/api/pagination.py`, DRF `LimitOffsetPagination`;
 * PROTOCOLS.md §1.4): `{count, next, previous, results}` with `limit`/`offset`, and 4.6 cursor
 * mode (`start`). `next`/`previous` are the absolute request URL with `limit`/`offset`
 * replaced, re-encoded the way Python's `urlencode(sorted(...))` does.
 */

export interface PageSettings {
  /** `PAGINATE_COUNT` (default 50). */
  readonly paginateCount: number;
  /** `MAX_PAGE_SIZE` (default 1000); 0 means no cap. */
  readonly maxPageSize: number;
  /** 4.6+: cursor pagination with `?start=`. */
  readonly cursor: boolean;
}

export interface Page<T> {
  readonly count: number | null;
  readonly next: string | null;
  readonly previous: string | null;
  readonly results: T[];
}

/** Python `int()` on a query value; `undefined` where Python raises `ValueError`. */
export function queryInt(text: string | null): number | undefined {
  if (text === null || !/^\s*[+-]?\d+\s*$/.test(text)) return undefined;
  return Number(text.trim());
}

/** `OptionalLimitOffsetPagination.get_limit`: 0 means "everything". */
export function pageLimit(query: URLSearchParams, settings: PageSettings): number {
  const max = settings.maxPageSize;
  if (!query.has('limit')) return max ? Math.min(settings.paginateCount, max) : settings.paginateCount;
  const limit = queryInt(query.get('limit'));
  if (limit === undefined || limit < 0) return settings.paginateCount;
  if (max) return limit === 0 ? max : Math.min(limit, max);
  return limit;
}

/** DRF `get_offset`: a non-negative integer, else 0. */
export function pageOffset(query: URLSearchParams): number {
  const offset = queryInt(query.get('offset'));
  return offset === undefined || offset < 0 ? 0 : offset;
}

/** Python `quote_plus` with `safe=''`. */
export function quotePlus(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(char)) out += char;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** DRF `replace_query_param` / `remove_query_param` on an absolute URL. */
export function withQueryParam(url: string, key: string, value: string | undefined): string {
  const queryStart = url.indexOf('?');
  const base = queryStart >= 0 ? url.slice(0, queryStart) : url;
  const params = new URLSearchParams(queryStart >= 0 ? url.slice(queryStart + 1) : '');
  const grouped = new Map<string, string[]>();
  for (const [k, v] of params) {
    const list = grouped.get(k);
    if (list) list.push(v);
    else grouped.set(k, [v]);
  }
  if (value === undefined) grouped.delete(key);
  else grouped.set(key, [value]);
  const query = [...grouped.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([k, values]) => values.map((v) => `${quotePlus(k)}=${quotePlus(v)}`))
    .join('&');
  return query ? `${base}?${query}` : base;
}

/**
 * One page of `items` (already filtered and ordered). `requestUrl` is the absolute URL of the
 * request (Django's `build_absolute_uri()`); `idOf` gives the primary key for cursor mode.
 */
export function paginate<T>(
  items: readonly T[],
  query: URLSearchParams,
  requestUrl: string,
  settings: PageSettings,
  idOf: (item: T) => number,
): Page<T> {
  if (settings.cursor && query.has('start')) return cursorPage(items, query, requestUrl, settings, idOf);
  const count = items.length;
  const limit = pageLimit(query, settings);
  const offset = pageOffset(query);
  const results = count === 0 || offset > count ? [] : limit ? items.slice(offset, offset + limit) : items.slice(offset);
  let next: string | null = null;
  let previous: string | null = null;
  if (limit) {
    if (offset + limit < count) {
      next = withQueryParam(withQueryParam(requestUrl, 'limit', String(limit)), 'offset', String(offset + limit));
    }
    if (offset > 0) {
      const url = withQueryParam(requestUrl, 'limit', String(limit));
      previous = offset - limit <= 0 ? withQueryParam(url, 'offset', undefined) : withQueryParam(url, 'offset', String(offset - limit));
    }
  }
  return { count, next, previous, results };
}

function cursorPage<T>(
  items: readonly T[],
  query: URLSearchParams,
  requestUrl: string,
  settings: PageSettings,
  idOf: (item: T) => number,
): Page<T> {
  if (query.has('offset')) throw new ApiError(400, ["'start' and 'offset' are mutually exclusive."]);
  if (query.has('ordering')) {
    throw new ApiError(400, ['Ordering cannot be specified in conjunction with cursor-based pagination.']);
  }
  const start = queryInt(query.get('start'));
  if (start === undefined || start < 0) {
    throw new ApiError(400, ["Invalid 'start' parameter: must be a non-negative integer."]);
  }
  const limit = pageLimit(query, settings);
  const sorted = [...items].filter((item) => idOf(item) >= start).sort((a, b) => idOf(a) - idOf(b));
  const results = limit ? sorted.slice(0, limit) : sorted;
  const last = results.at(-1);
  const next =
    limit && last !== undefined && results.length === limit
      ? withQueryParam(withQueryParam(requestUrl, 'limit', String(limit)), 'start', String(idOf(last) + 1))
      : null;
  return { count: null, next, previous: null, results };
}

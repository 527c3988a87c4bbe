import { parseDuration } from '../../core/config/units.ts';
import { type AdminAnswer, badField, problem } from './answer.ts';

/** The longest `wait` a purge may ask for: as long as the primary still listens for a late count (worker-requests.ts). */
const MOST_WAIT_MS = 10 * 60_000;

/** What DELETE /cache reads: the query's route, key and wait. */
const PURGE_PARAMETERS = new Set(['route', 'key', 'wait']);

/**
 * DELETE /cache's selection, or the 400 for one it would not read. A purge of every route is
 * the request that names nothing, so what it does not read is refused rather than dropped: a
 * misspelt `?rout=pages`, or `{"route": "pages"}` sent as a body as the other endpoints take
 * theirs, would otherwise purge every route's stored answers; a second `route=` would be
 * dropped unread, its answers left stored.
 */
export function purgeSelection(
  query: URLSearchParams,
  body: unknown,
): { route?: string; key?: string; wait?: number } | AdminAnswer {
  if (body !== undefined)
    return badField(
      '(body)',
      'DELETE /cache reads its selection from the query (?route=NAME&key=PREFIX), not a body',
    );
  for (const name of new Set(query.keys())) {
    if (!PURGE_PARAMETERS.has(name))
      return badField(
        name,
        'DELETE /cache reads route, key and wait alone; a purge of every route names none',
      );
    const times = query.getAll(name).length;
    if (times > 1)
      return badField(
        name,
        `given ${times} times; a purge names one route (and one key): purge each in turn`,
      );
  }
  const route = query.get('route') ?? undefined;
  const key = query.get('key') ?? undefined;
  if (route === '') return badField('route', 'expected a route name');
  if (key !== undefined && route === undefined)
    return badField('key', 'a key is purged within a route: name it');
  const wait = purgeWait(query.get('wait'));
  if (typeof wait === 'object') return wait;
  return { route, key, wait };
}

/** DELETE /cache's `wait` (a duration, `0` alone too): how long the workers have to count what they removed. */
function purgeWait(text: string | null): number | AdminAnswer | undefined {
  if (text === null) return undefined;
  const ms = text === '0' ? 0 : parseDuration(text);
  if (ms === undefined || ms > MOST_WAIT_MS)
    return badField('wait', `expected a duration up to 10m (0, 500ms, 30s), got ${JSON.stringify(text)}`);
  return ms;
}

/**
 * DELETE /cache's answer. 200: every worker removed what the purge covers, `removed` counted.
 * 202: every worker took it (no answer it covers is served from then on), some are still
 * removing the files of a large cache.dir: `removed_so_far` is what the others removed, and the
 * gateway logs each late count (`admin purge finished`). 503: a worker did not take it in time,
 * and may still serve what it holds.
 */
export function purgeAnswer(
  purged: { readonly route: string | null; readonly key: string | null },
  result: {
    readonly removed: number;
    readonly removed_at_most?: number;
    readonly confirmed: number[];
    readonly under_way: number[];
    readonly failed: number[];
  },
): AdminAnswer {
  if (result.failed.length > 0)
    return problem(
      503,
      'Purge incomplete',
      'some workers did not take the purge: they may still serve what it covers',
      {
        workers: result,
      },
    );
  if (result.under_way.length === 0) return { status: 200, body: { purged, ...result } };
  const { removed, ...rest } = result;
  return {
    status: 202,
    body: {
      purged,
      in_effect: true,
      removed_so_far: removed,
      ...rest,
      detail: `in effect in every worker; ${result.under_way.length} still removing the files of cache.dir (the gateway logs each one's count: "admin purge finished")`,
    },
  };
}

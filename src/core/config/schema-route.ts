/**
 * The schema node of a route (what it matches, where it sends, how it splits, rewrites and sets
 * headers, its limits, maintenance, rate limit, compression, cache and access control), kept
 * apart from schema.ts so that file stays a readable outline of the document. Its larger parts
 * are in schema-routing.ts, schema-canary.ts and schema-access.ts.
 */

import { Type } from '@sinclair/typebox';
import { CACHE_CONTROL_EXPECTED, FORMAT, PATH_PREFIX_EXPECTED, ROUTE_NAME_EXPECTED } from './formats.ts';
import { ACCESS_FIELDS } from './schema-access.ts';
import { SPLIT_FIELDS } from './schema-canary.ts';
import { count, durationField, filePath, flag, mapping, sizeField } from './schema-kit.ts';
import { ROUTE_PLUGIN_FIELDS } from './schema-plugins.ts';
import { MATCH_FIELDS, ROUTE_POLICY_FIELDS } from './schema-routing.ts';
import { Maintenance, Timeouts } from './schema-upstream.ts';

/** The slowest rate_limit.rate: its wait, 1 / rate seconds, stays a plain number (10^6 s) in Retry-After. */
const MIN_RATE = 0.000001;

/**
 * The statuses a cache may keep (RFC 9111 §3: those it understands; a 206 is a part, never the
 * answer): `cache.lifetimes` names no other, since an answer of another status is never stored,
 * whatever lifetime it is given.
 */
export const STORABLE_STATUSES = [
  200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501,
] as const;
const STORABLE_STATUS = `^(${STORABLE_STATUSES.join('|')})$`;

/** A list of media types as `compression` names them: `text/html`, or `text/*`. */
function mediaTypes(options: { minItems?: number; expected: string }) {
  return Type.Array(
    Type.String({
      pattern: '^[A-Za-z0-9!#$&^_.+-]+/([A-Za-z0-9!#$&^_.+-]+|\\*)$',
      expected: 'a media type like text/html or text/*',
    }),
    options,
  );
}

export const Route = mapping(
  {
    name: Type.Optional(Type.String({ format: FORMAT.routeName, expected: ROUTE_NAME_EXPECTED })),
    match: Type.Optional(
      mapping(
        {
          host: Type.Optional(
            Type.String({
              format: FORMAT.routeHost,
              expected: 'a host name like api.example.com or *.example.com',
            }),
          ),
          path: Type.Optional(
            // Said whole for a value that is no string ({ regex: … }): no field matches a path by pattern.
            Type.String({ format: FORMAT.matchPath, expected: PATH_PREFIX_EXPECTED }),
          ),
          ...MATCH_FIELDS,
        },
        'a mapping with listener, scheme, host, path, methods, headers and/or query',
      ),
    ),
    upstream: Type.Optional(Type.String({ minLength: 1, expected: 'the name of an upstream' })),
    ...SPLIT_FIELDS,
    strip_prefix: flag(),
    allow_encoded_slashes: flag(),
    ...ROUTE_POLICY_FIELDS,
    limits: Type.Optional(mapping({ body: sizeField(), buffer: sizeField() }, 'a mapping of limits')),
    request_buffering: flag(),
    max_in_flight: count(1, 10_000_000, 'requests in flight'),
    maintenance: Maintenance,
    // Over its upstream's, key by key, for this route's requests only (normalize-route-timeouts.ts).
    timeouts: Timeouts,
    rate_limit: Type.Optional(
      mapping(
        {
          // A slower rate's wait (1 / rate seconds) is no number Retry-After can carry: 1e-22 sent
          // `Retry-After: 1e+22`, which is no delay-seconds (RFC 9110 §10.2.3), and a wait of ages.
          rate: Type.Number({
            minimum: MIN_RATE,
            expected: `requests per second, a number of at least ${MIN_RATE} (one request in 11.6 days)`,
          }),
          burst: count(1, 1_000_000, 'the largest burst'),
          key: Type.Optional(
            Type.String({ format: FORMAT.rateKey, expected: 'client, identity or header:NAME' }),
          ),
          ipv6_prefix: count(1, 128, 'an IPv6 prefix length'),
        },
        'a mapping with rate, burst, key and ipv6_prefix',
      ),
    ),
    retry_idempotency_key: flag(),
    compression: Type.Optional(
      mapping(
        {
          encodings: Type.Optional(
            Type.Array(
              Type.Unsafe<'zstd' | 'br' | 'gzip'>(
                Type.Union([Type.Literal('zstd'), Type.Literal('br'), Type.Literal('gzip')], {
                  expected: 'one of zstd, br, gzip',
                }),
              ),
              { minItems: 1, uniqueItems: true, expected: 'a list of zstd, br and/or gzip, each once' },
            ),
          ),
          min_size: sizeField(),
          types: Type.Optional(mediaTypes({ minItems: 1, expected: 'a list of media types' })),
          skip_credentialed: Type.Optional(
            mediaTypes({ expected: 'a list of media types ([] to compress every type in types)' }),
          ),
        },
        'a mapping with encodings, min_size, types and/or skip_credentialed',
      ),
    ),
    cache: Type.Optional(
      mapping(
        {
          max_size: sizeField(),
          max_entry: sizeField(),
          // 0s reads one way here: nothing is ever given stale.
          stale_if_error: Type.Optional(
            Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 30s or 5m' }),
          ),
          lock_timeout: durationField(),
          dir: Type.Optional(filePath('a directory the workers share for stored answers')),
          max_disk: sizeField(),
          lifetimes: Type.Optional(
            Type.Record(
              Type.String({ pattern: STORABLE_STATUS }),
              Type.String({ format: FORMAT.lifetime, expected: 'a lifetime like 30s, 10m or 1h' }),
              {
                additionalProperties: false,
                expected: `a mapping of status to lifetime, such as { 200: 10m, 404: 1m }, of statuses a cache may keep (${STORABLE_STATUSES.join(', ')})`,
              },
            ),
          ),
          override_origin: flag(),
          workers_share: flag(),
          stale_while_revalidate: Type.Optional(
            Type.String({ format: FORMAT.grace, expected: 'a duration like 0s, 30s or 5m' }),
          ),
        },
        'a mapping with max_size, max_entry, stale_if_error, stale_while_revalidate, lifetimes, override_origin, lock_timeout, dir, max_disk and/or workers_share',
      ),
    ),
    static: Type.Optional(
      mapping(
        {
          root: filePath('the directory whose files the route serves'),
          index: Type.Optional(
            Type.String({ pattern: '^[^/\\\\\\x00]+$', expected: 'a file name like index.html' }),
          ),
          fallback: Type.Optional(
            Type.String({ pattern: '^/[^\\\\\\x00]*$', expected: 'a file under root like /index.html' }),
          ),
          precompressed: Type.Optional(
            Type.Array(
              Type.Unsafe<'zstd' | 'br' | 'gzip'>(
                Type.Union([Type.Literal('zstd'), Type.Literal('br'), Type.Literal('gzip')], {
                  expected: 'one of zstd, br, gzip',
                }),
              ),
              { uniqueItems: true, expected: 'a list of zstd, br and/or gzip, each once' },
            ),
          ),
          cache_control: Type.Optional(
            Type.String({ format: FORMAT.cacheControl, expected: CACHE_CONTROL_EXPECTED }),
          ),
        },
        'a mapping with root, index, fallback, precompressed and/or cache_control',
      ),
    ),
    ...ACCESS_FIELDS,
    ...ROUTE_PLUGIN_FIELDS,
  },
  'a mapping with match and upstream',
);

/**
 * `route_defaults`: the route fields every route takes where it writes none of its own
 * (route-defaults.ts), each checked as a route's is.
 */
export const RouteDefaults = Type.Optional(
  mapping(
    {
      request_headers: Route.properties.request_headers,
      response_headers: Route.properties.response_headers,
      compression: Route.properties.compression,
      cache: Route.properties.cache,
      cors: Route.properties.cors,
      limits: Route.properties.limits,
      rate_limit: Route.properties.rate_limit,
      timeouts: Route.properties.timeouts,
    },
    'a mapping of route fields every route takes where it has none of its own: request_headers, response_headers, compression, cache, cors, limits, rate_limit and/or timeouts',
  ),
);

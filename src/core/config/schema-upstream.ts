/**
 * The schema nodes of an upstream (its targets or their discovery, balancer, pool, health
 * checks, outlier detection, hold, circuit breaker, retries, timeouts, TLS) and of maintenance,
 * which a route and an upstream both have, kept apart from schema.ts so that file stays a
 * readable outline of the document.
 */

import { Type } from '@sinclair/typebox';
import { FAILURES, TARGET_FAULT_SHAPES } from '../failure/taxonomy.ts';
import { FORMAT } from './formats.ts';
import { Discovery } from './schema-fleet.ts';
import { count, durationField, filePath, flag, mapping, oneOf, ratio, sizeField } from './schema-kit.ts';
import { HASH_KEY_FIELD, UPSTREAM_TLS_FIELDS } from './schema-routing.ts';

/** Maintenance mode, of a route or of every route to an upstream. */
export const Maintenance = Type.Optional(
  mapping(
    {
      retry_after: durationField(),
      message: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 500,
          format: FORMAT.message,
          expected: 'a message of up to 500 characters',
        }),
      ),
    },
    'a mapping with retry_after and message',
  ),
);

/**
 * An upstream's timeouts, and a route's (`routes[].timeouts`, `route_defaults.timeouts`): each key
 * a route writes takes the place of its upstream's for that route's requests.
 */
export const Timeouts = Type.Optional(
  mapping(
    {
      connect: durationField(),
      response: durationField(),
      read: durationField(),
      send: durationField(),
      total: durationField(),
      total_includes_body: flag(),
      tunnel_idle: durationField(),
      tunnel_half_closed: durationField(),
    },
    'a mapping of timeouts',
  ),
);

/** The failure types a retry can help with: the upstream's, not the client's or the gateway's own. */
const RETRYABLE_TYPES = Object.entries(FAILURES)
  .filter(([, kind]) => TARGET_FAULT_SHAPES.has(kind.shape))
  .map(([type]) => type);

const Target = mapping(
  {
    url: Type.String({ format: FORMAT.targetUrl, expected: 'a URL like http://127.0.0.1:3001' }),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, expected: 'an integer from 1 to 1000' })),
    priority: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 65535, expected: 'an integer from 0 to 65535' }),
    ),
  },
  'a mapping with a url',
);

export const Upstream = mapping(
  {
    targets: Type.Optional(Type.Array(Target, { minItems: 1, expected: 'a list of at least one target' })),
    discovery: Discovery,
    balancer: oneOf(['round_robin', 'least_conn', 'hash']),
    hash_key: HASH_KEY_FIELD,
    protocol: oneOf(['http1', 'h2c', 'h2']),
    pool: Type.Optional(
      mapping(
        {
          max_connections: Type.Optional(
            Type.Integer({ minimum: 1, expected: 'a whole number of connections, at least 1' }),
          ),
          idle_timeout: durationField(),
          max_pending: count(0, 1_000_000, 'requests waiting for a connection'),
          queue_timeout: durationField(),
          max_streams: count(1, 10_000, 'concurrent streams on one HTTP/2 connection'),
        },
        'a mapping of pool settings',
      ),
    ),
    health_check: Type.Optional(
      mapping(
        {
          method: oneOf(['GET', 'HEAD', 'OPTIONS']),
          path: Type.Optional(
            Type.String({
              format: FORMAT.probePath,
              expected: 'a path starting with "/", with a query if need be',
            }),
          ),
          host: Type.Optional(
            Type.String({ format: FORMAT.hostHeader, expected: 'a Host like api.internal or [::1]:8080' }),
          ),
          expect_status: Type.Optional(
            Type.String({ format: FORMAT.statusRanges, expected: 'statuses like 200-399 or "200-299, 304"' }),
          ),
          interval: durationField(),
          timeout: durationField(),
          rise: count(1, 100, 'successes in a row'),
          fall: count(1, 100, 'failures in a row'),
        },
        'a mapping of health check settings',
      ),
    ),
    slow_start: durationField(),
    panic_threshold: count(0, 100, 'a percentage of targets (0: never)'),
    outlier_detection: Type.Optional(
      mapping(
        {
          consecutive_failures: count(0, 10_000, 'failures in a row (0: off)'),
          base_ejection_time: durationField(),
          max_ejection_time: durationField(),
          max_ejected_percent: count(0, 100, 'a percentage'),
        },
        'a mapping of outlier detection settings',
      ),
    ),
    hold: Type.Optional(
      mapping(
        {
          timeout: durationField(),
          max_requests: count(1, 1_000_000, 'requests held at once'),
          max_body: sizeField(),
        },
        'a mapping with timeout, max_requests and/or max_body',
      ),
    ),
    circuit_breaker: Type.Optional(
      mapping(
        {
          consecutive_failures: count(0, 100_000, 'failures in a row (0: off)'),
          open_time: durationField(),
          half_open_requests: count(1, 1000, 'probe requests'),
        },
        'a mapping of circuit breaker settings',
      ),
    ),
    retries: Type.Optional(
      mapping(
        {
          attempts: count(1, 10, 'attempts in all'),
          on: Type.Optional(
            Type.Array(oneOf(RETRYABLE_TYPES), {
              expected: `a list of failure types from: ${RETRYABLE_TYPES.join(', ')}`,
            }),
          ),
          per_try_timeout: durationField(),
          backoff: Type.Optional(
            mapping({ base: durationField(), max: durationField() }, 'a mapping with base and max'),
          ),
          budget: Type.Optional(
            mapping(
              {
                ratio: ratio('the share of active requests retries may add'),
                min_concurrent: count(0, 10_000, 'retries always allowed at once'),
                min_per_second: Type.Optional(
                  Type.Number({
                    minimum: 0,
                    maximum: 10_000,
                    expected: 'retries a second always allowed, a number from 0 to 10000',
                  }),
                ),
              },
              'a mapping with ratio, min_concurrent and min_per_second',
            ),
          ),
          replay_body: sizeField(),
        },
        'a mapping of retry settings',
      ),
    ),
    maintenance: Maintenance,
    timeouts: Timeouts,
    tls: Type.Optional(
      mapping(
        {
          ca: Type.Optional(filePath('a PEM file of CA certificates')),
          crl: Type.Optional(
            filePath('a PEM file of certificate revocation lists (one per CA in the chain)'),
          ),
          servername: Type.Optional(
            Type.String({ format: FORMAT.serverName, expected: 'a host name like api.internal' }),
          ),
          insecure_skip_verify: flag(),
          ...UPSTREAM_TLS_FIELDS,
        },
        'a mapping of TLS settings',
      ),
    ),
  },
  'a mapping with targets or discovery',
);

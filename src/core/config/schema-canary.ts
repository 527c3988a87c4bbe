/**
 * The schema nodes of a route's traffic split and its canary (issue 36), kept apart from
 * schema.ts so that file stays a readable outline. What needs the whole route (split or
 * upstream, the canary's upstream not the baseline, rising steps) is in canary-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { CANARY_METRICS } from './canary-metrics.ts';
import { FORMAT } from './formats.ts';
import { count, durationField, mapping, oneOf } from './schema-kit.ts';
import { HASH_KEY_FIELD } from './schema-routing.ts';

const upstreamName = Type.String({ minLength: 1, expected: 'the name of an upstream' });

export const SPLIT_FIELDS = {
  split: Type.Optional(
    Type.Array(
      mapping(
        { upstream: upstreamName, weight: count(0, 1000, 'a weight') },
        'a mapping with upstream and weight',
      ),
      { minItems: 1, maxItems: 16, expected: 'a list of { upstream, weight } mappings (1 to 16)' },
    ),
  ),
  hash_key: HASH_KEY_FIELD,
  canary: Type.Optional(
    mapping(
      {
        upstream: upstreamName,
        steps: Type.Optional(
          Type.Array(
            // 100 only last: the promotion (canary-promotion.ts; canary-checks.ts says where else).
            Type.Integer({
              minimum: 1,
              maximum: 100,
              expected: 'a percent, a whole number from 1 to 100 (100 only last: the promotion)',
            }),
            { minItems: 1, maxItems: 20, expected: 'a list of percents, rising, like [5, 25, 50]' },
          ),
        ),
        step_interval: durationField(),
        check_interval: durationField(),
        min_requests: count(1, 1_000_000, 'requests per side per step'),
        max_duration: durationField(),
        compare: Type.Optional(
          Type.Array(
            Type.Unsafe<(typeof CANARY_METRICS)[number]>(
              Type.Union(
                CANARY_METRICS.map((m) => Type.Literal(m)),
                { expected: `one of ${CANARY_METRICS.join(', ')}` },
              ),
            ),
            { minItems: 1, uniqueItems: true, expected: `a list of ${CANARY_METRICS.join(', ')}, each once` },
          ),
        ),
        confidence: Type.Optional(
          Type.Number({
            minimum: 0.5,
            exclusiveMaximum: 1,
            expected: 'a confidence, a number from 0.5 to below 1 (like 0.99)',
          }),
        ),
        // 0s: any slower median is slower (docs/configuration.md).
        latency_margin: Type.Optional(
          Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 20ms or 50ms' }),
        ),
        latency_p99_factor: Type.Optional(
          Type.Number({
            minimum: 1,
            maximum: 100,
            expected: "a factor of the baseline's p99, a number from 1 to 100 (like 2)",
          }),
        ),
        baseline_max_failed_percent: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 100,
            expected: 'a percent of the baseline requests, a number from 0 to 100 (100: never)',
          }),
        ),
        on_failure: oneOf(['rollback', 'pause']),
        on_success: oneOf(['promote', 'hold']),
      },
      'a mapping with upstream, steps, step_interval, check_interval, min_requests, max_duration, compare, confidence, latency_margin, latency_p99_factor, baseline_max_failed_percent, on_failure and on_success',
    ),
  ),
};

/**
 * The schema of what running several gateways adds (kept apart from schema.ts, which holds
 * the rest): `store` for the limits they share, `upstreams.*.discovery` for targets found by
 * DNS. Same conventions: every node says what it expects, unknown keys are errors.
 */

import { Type } from '@sinclair/typebox';
import { FLEET_FORMAT } from './fleet-values.ts';
import { FORMAT } from './formats.ts';
import { durationField, mapping, oneOf } from './schema-kit.ts';

const redisUrl = Type.String({
  format: FLEET_FORMAT.redisUrl,
  expected: 'a URL like redis://127.0.0.1:6379',
});
const keyPrefix = Type.Optional(
  Type.String({
    pattern: '^[\\x21-\\x7e]{1,64}$',
    expected: 'a key prefix of up to 64 visible characters',
  }),
);

export const Store = Type.Optional(
  mapping(
    {
      redis: mapping(
        {
          url: redisUrl,
          on_error: oneOf(['allow', 'deny']),
          timeout: durationField(),
          prefix: keyPrefix,
        },
        'a mapping with url',
      ),
    },
    'a mapping with redis',
  ),
);

/**
 * Where an OpenID Connect route keeps its sessions (`auth.oidc.store`): the shape of `store`, but
 * no `on_error`, for a session Redis does not answer for is never let through nor refused as the
 * client's: it is the store's failure (a 503).
 */
export const OidcStore = Type.Optional(
  mapping(
    {
      redis: mapping({ url: redisUrl, timeout: durationField(), prefix: keyPrefix }, 'a mapping with url'),
    },
    'a mapping with redis',
  ),
);

export const Discovery = Type.Optional(
  mapping(
    {
      dns: Type.String({ format: FLEET_FORMAT.dnsName, expected: 'a DNS name like api.internal' }),
      type: oneOf(['A', 'AAAA', 'SRV']),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, expected: 'a port from 1 to 65535' })),
      scheme: oneOf(['http', 'https']),
      resolvers: Type.Optional(
        Type.Array(
          Type.String({ format: FLEET_FORMAT.resolver, expected: 'a DNS server like 10.0.0.10:53' }),
          {
            minItems: 1,
            expected: 'a list of DNS servers like [10.0.0.10:53]',
          },
        ),
      ),
      interval: durationField(),
      min_ttl: durationField(),
      max_ttl: durationField(),
      allow: Type.Optional(
        Type.Array(
          Type.String({
            format: FORMAT.addressOrCidr,
            expected: 'an IP address or CIDR block like 169.254.0.0/16',
          }),
          { expected: 'a list of IP addresses or CIDR blocks' },
        ),
      ),
      max_targets: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 10_000, expected: 'a number of targets from 1 to 10000' }),
      ),
    },
    'a mapping with dns (and port, unless type is SRV)',
  ),
);

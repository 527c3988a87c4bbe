/**
 * The schema of automatic HTTPS (kept apart from schema.ts, which holds the rest): the
 * gateway's `acme` (where certificates are ordered and kept) and a TLS listener's
 * `tls.acme.names` (which names it orders for). Same conventions: every node says what it
 * expects, unknown keys are errors.
 */

import { Type } from '@sinclair/typebox';
import { filePath, mapping, span } from './schema-kit.ts';

/**
 * A DNS name an ACME CA validates by HTTP-01 or TLS-ALPN-01: letters, digits and hyphens in
 * labels of at most 63, at least two labels, no wildcard (neither challenge can prove one),
 * and a last label that is not all digits: that is an IPv4 address, which ACME orders as an
 * identifier of another type (RFC 8738), not as a DNS name.
 */
const ACME_NAME =
  '^(?=.{1,253}$)(?!.*\\.[0-9]+$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';

export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01'] as const;

export const ListenerAcme = Type.Optional(
  mapping(
    {
      names: Type.Array(
        Type.String({
          pattern: ACME_NAME,
          expected:
            'a DNS name like www.example.com (no wildcard: HTTP-01 and TLS-ALPN-01 cannot prove one; no IP address)',
        }),
        { minItems: 1, maxItems: 100, expected: 'a list of 1 to 100 DNS names' },
      ),
    },
    'a mapping with names',
  ),
);

export const Acme = Type.Optional(
  mapping(
    {
      directory: Type.Optional(
        Type.String({
          pattern: '^https://[^\\s]+$',
          expected: "an https:// URL of an ACME server's directory",
        }),
      ),
      email: Type.Optional(
        Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$', expected: 'an email address for the CA to write to' }),
      ),
      ca: Type.Optional(filePath("a PEM file of the root the ACME server's own HTTPS certificate chains to")),
      challenges: Type.Optional(
        Type.Array(
          Type.Union(
            ACME_CHALLENGES.map((c) => Type.Literal(c)),
            { expected: `one of ${ACME_CHALLENGES.join(', ')}` },
          ),
          {
            minItems: 1,
            uniqueItems: true,
            expected: `a list of challenges from ${ACME_CHALLENGES.join(', ')}`,
          },
        ),
      ),
      renew_before: span(),
      storage: Type.Optional(filePath('a folder where accounts and certificates are kept')),
    },
    'a mapping of ACME settings',
  ),
);

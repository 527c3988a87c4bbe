/**
 * The schema nodes of routing and traffic policy (matching, header rules, rewrite, redirect,
 * TLS certificates chosen by SNI, client certificates toward upstreams, the hash balancer's
 * key), kept apart from schema.ts so that file stays a readable outline of the document.
 * Grammar checks that need the whole route (one of upstream or redirect, a pattern RE2
 * accepts, a header Candor owns) are in routing-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { FORMAT } from './formats.ts';
import { ClientCertificates } from './schema-client-certificates.ts';
import { filePath, flag, mapping, oneOf } from './schema-kit.ts';

const PATTERN_EXPECTED = 'a pattern in RE2 syntax (linear-time)';

/** What a header or query parameter must be: a value, a pattern, or there (or not). */
const valueTest = Type.Union(
  [
    Type.String({ expected: 'a value' }),
    mapping({ regex: Type.String({ minLength: 1, expected: PATTERN_EXPECTED }) }, 'a mapping with regex'),
    mapping({ present: Type.Boolean({ expected: 'true or false' }) }, 'a mapping with present'),
  ],
  { expected: 'a value, { regex: PATTERN } or { present: true|false }' },
);
const valueTests = (what: string) =>
  Type.Optional(
    Type.Record(Type.String(), valueTest, { expected: `a mapping of ${what} to what they must be` }),
  );

const listenerName = Type.String({ minLength: 1, expected: 'the name of a listener' });

export const MATCH_FIELDS = {
  listener: Type.Optional(
    Type.Union(
      [listenerName, Type.Array(listenerName, { minItems: 1, expected: 'a list of listener names' })],
      { expected: 'a listener name, or a list of them' },
    ),
  ),
  scheme: oneOf(['http', 'https']),
  methods: Type.Optional(
    Type.Array(Type.String({ format: FORMAT.method, expected: 'a method like GET or POST' }), {
      minItems: 1,
      expected: 'a list of methods like [GET, HEAD]',
    }),
  ),
  headers: valueTests('header names'),
  query: valueTests('query parameter names'),
};

const headerValues = Type.Optional(
  Type.Record(
    Type.String(),
    Type.String({
      format: FORMAT.headerTemplate,
      expected: 'a header value (quote one that starts with "{", like "{request_id}")',
    }),
    { expected: 'a mapping of header names to values' },
  ),
);
const headerRules = Type.Optional(
  mapping(
    {
      set: headerValues,
      add: headerValues,
      remove: Type.Optional(
        Type.Array(Type.String({ minLength: 1, expected: 'a header name' }), {
          expected: 'a list of header names',
        }),
      ),
    },
    'a mapping with set, add and/or remove',
  ),
);

export const ROUTE_POLICY_FIELDS = {
  request_headers: headerRules,
  response_headers: headerRules,
  rewrite: Type.Optional(
    mapping(
      {
        prefix: Type.Optional(
          Type.String({ format: FORMAT.routePath, expected: 'a path prefix starting with "/"' }),
        ),
        regex: Type.Optional(Type.String({ minLength: 1, expected: PATTERN_EXPECTED })),
        replace: Type.Optional(Type.String({ expected: 'the replacement, with $1 for a group' })),
      },
      'a mapping with prefix, or regex and replace',
    ),
  ),
  redirect: Type.Optional(
    mapping(
      {
        scheme: oneOf(['http', 'https']),
        port: Type.Optional(
          Type.Integer({ minimum: 1, maximum: 65535, expected: 'a port, a whole number from 1 to 65535' }),
        ),
        location: Type.Optional(
          Type.String({ format: FORMAT.location, expected: 'an absolute URL like https://example.com/new' }),
        ),
        status: Type.Optional(
          Type.Unsafe<301 | 302 | 307 | 308>(
            Type.Union(
              [301, 302, 307, 308].map((s) => Type.Literal(s)),
              { expected: 'one of 301, 302, 307, 308' },
            ),
          ),
        ),
      },
      'a mapping with scheme and/or port, or location; and status',
    ),
  ),
};

const certificatePair = mapping(
  { cert: filePath('a PEM certificate file'), key: filePath('a PEM private key file') },
  'a mapping with cert and key',
);

export const LISTENER_TLS_FIELDS = {
  certificates: Type.Optional(
    Type.Array(certificatePair, { minItems: 1, expected: 'a list of { cert, key } mappings' }),
  ),
  min_version: oneOf(['TLSv1.2', 'TLSv1.3']),
  allow_misdirected: flag(),
  client_certificates: ClientCertificates,
};

export const UPSTREAM_TLS_FIELDS = {
  cert: Type.Optional(filePath('a PEM client certificate file')),
  key: Type.Optional(filePath('a PEM private key file')),
};

export const HASH_KEY_FIELD = Type.Optional(
  Type.String({ format: FORMAT.hashKey, expected: 'client, header:NAME or cookie:NAME' }),
);

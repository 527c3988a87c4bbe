/**
 * The schema nodes of a route's access control: IP lists, CORS and authentication, kept
 * apart from schema.ts so that file stays a readable outline of the document. Checks that
 * need more than one field (credentials with a wildcard origin) are in access-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { FORMAT } from './formats.ts';
import { duration, filePath, flag, mapping } from './schema-kit.ts';

const addressList = (what: string) =>
  Type.Optional(
    Type.Array(
      Type.String({ format: FORMAT.addressOrCidr, expected: 'an IP address or CIDR block like 10.0.0.0/8' }),
      { minItems: 1, expected: `a list of IP addresses or CIDR blocks ${what}` },
    ),
  );

/** An origin as browsers send it, lower-case: scheme://host[:port], "*." before the host for any subdomain, or "*". */
const ORIGIN =
  '^(\\*|[a-z][a-z0-9+.-]*://(\\*\\.)?[a-z0-9.-]+(:[0-9]{1,5})?|[a-z][a-z0-9+.-]*://\\[[0-9a-f:.]+\\](:[0-9]{1,5})?)$';
const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
const names = (what: string) =>
  Type.Optional(
    Type.Array(Type.String({ pattern: TOKEN, expected: 'a header name' }), {
      expected: `a list of header names ${what}`,
    }),
  );

const Cors = mapping(
  {
    origins: Type.Array(
      Type.String({
        pattern: ORIGIN,
        expected:
          'an origin in lower case like https://app.example.com, https://*.example.com for its subdomains, or "*"',
      }),
      { minItems: 1, expected: 'a list of origins that may call the route from a browser' },
    ),
    methods: Type.Optional(
      Type.Array(Type.String({ format: FORMAT.method, expected: 'a method like GET or POST' }), {
        minItems: 1,
        expected: 'a list of methods like [GET, POST]',
      }),
    ),
    headers: names('a browser may send'),
    expose_headers: names("a browser's script may read"),
    credentials: flag(),
    max_age: duration(),
  },
  'a mapping with origins, methods, headers, expose_headers, credentials and max_age',
);

/** What a quoted-string may hold without escapes (RFC 9110 §5.6.4): a realm sent as it is written. */
const REALM = '^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,200}$';

const Auth = mapping(
  {
    basic: Type.Optional(
      mapping(
        {
          users_file: filePath('an htpasswd file (bcrypt or SHA-crypt hashes)'),
          realm: Type.Optional(
            Type.String({
              pattern: REALM,
              expected: 'a realm of up to 200 printable ASCII characters, without " or \\',
            }),
          ),
        },
        'a mapping with users_file and realm',
      ),
    ),
    forward_authorization: flag(),
  },
  'a mapping with basic and forward_authorization',
);

export const ACCESS_FIELDS = {
  allow: addressList('that may use the route (any other is refused)'),
  deny: addressList('refused on the route'),
  cors: Type.Optional(Cors),
  auth: Type.Optional(Auth),
};

/**
 * The schema nodes of a route's access control: IP lists, CORS and authentication, kept
 * apart from schema.ts so that file stays a readable outline of the document. Checks that
 * need more than one field (credentials with a wildcard origin) are in access-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { FORMAT } from './formats.ts';

const addressList = (what: string) =>
  Type.Optional(
    Type.Array(
      Type.String({ format: FORMAT.addressOrCidr, expected: 'an IP address or CIDR block like 10.0.0.0/8' }),
      { minItems: 1, expected: `a list of IP addresses or CIDR blocks ${what}` },
    ),
  );

export const ACCESS_FIELDS = {
  allow: addressList('that may use the route (any other is refused)'),
  deny: addressList('refused on the route'),
};

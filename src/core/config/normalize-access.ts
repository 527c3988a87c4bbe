/** The runtime form of a route's access control (schema-access.ts): absent when it has none. */

import type { RawConfig } from './schema.ts';
import type { RouteAccessConfig } from './types.ts';

type RawRoute = RawConfig['routes'][number];

export function toAccess(raw: RawRoute): RouteAccessConfig | undefined {
  if (raw.allow === undefined && raw.deny === undefined) return undefined;
  return {
    ...(raw.allow === undefined ? {} : { allow: [...raw.allow] }),
    ...(raw.deny === undefined ? {} : { deny: [...raw.deny] }),
  };
}

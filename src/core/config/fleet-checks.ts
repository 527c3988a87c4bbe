/**
 * Checks that span the fields of `upstreams.*.discovery`: an upstream names its targets or
 * how to find them, never both; an A or AAAA answer needs the port its targets listen on; a
 * TTL's bounds must leave room between them.
 */

import { DEFAULTS } from './defaults.ts';
import { entriesOf, isMapping } from './raw-access.ts';
import type { Report } from './report.ts';
import { formatDuration, parseDuration } from './units.ts';

export function checkDiscovery(upstreams: Record<string, unknown> | undefined, report: Report): void {
  for (const [name, upstream] of entriesOf(upstreams)) {
    const discovery = upstream.discovery;
    if (discovery === undefined) {
      if (upstream.targets === undefined)
        report(
          ['upstreams', name, 'targets'],
          "missing required field 'targets' (or 'discovery', to find them by DNS)",
          'parent',
        );
      continue;
    }
    if (upstream.targets !== undefined)
      report(
        ['upstreams', name, 'discovery'],
        'targets and discovery cannot both be set: the targets are either written or found by DNS',
        'key',
      );
    if (!isMapping(discovery)) continue;
    const type = discovery.type ?? DEFAULTS.discovery.type;
    if (type !== 'SRV' && discovery.port === undefined)
      report(
        ['upstreams', name, 'discovery', 'port'],
        `missing required field 'port': an ${String(type)} answer gives addresses, not the port the targets listen on`,
        'parent',
      );
    if (type === 'SRV' && discovery.port !== undefined)
      report(['upstreams', name, 'discovery', 'port'], 'SRV records carry their own ports: remove port');
    const ms = (key: 'min_ttl' | 'max_ttl', fallback: number) =>
      typeof discovery[key] === 'string' ? parseDuration(discovery[key]) : fallback;
    const min = ms('min_ttl', DEFAULTS.discovery.minTtl);
    const max = ms('max_ttl', DEFAULTS.discovery.maxTtl);
    if (min !== undefined && max !== undefined && min > max)
      report(
        ['upstreams', name, 'discovery', typeof discovery.min_ttl === 'string' ? 'min_ttl' : 'max_ttl'],
        `discovery.min_ttl (${formatDuration(min)}) must not be above discovery.max_ttl (${formatDuration(max)})`,
      );
  }
}

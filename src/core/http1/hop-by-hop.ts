/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never
 * forwarded. Each hop frames bodies itself, so Transfer-Encoding goes too; Expect is
 * answered by Candor (100-continue) and not forwarded.
 */
import { trimOws } from './syntax.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

/**
 * Extra field names a Connection header declares hop-by-hop ("Connection: close, X-Debug").
 * Returns undefined in the common case where it names only connection options.
 */
export function connectionNominated(values: readonly string[]): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (const value of values) {
    for (const token of value.split(',')) {
      const name = trimOws(token).toLowerCase();
      if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
      names ??= new Set();
      names.add(name);
    }
  }
  return names;
}

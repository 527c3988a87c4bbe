/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never
 * forwarded. Each hop frames bodies itself, so Transfer-Encoding goes too; Expect is
 * answered by Candor (100-continue) and not forwarded.
 */
import { nameIs, trimOws } from './syntax.ts';

/** Whether a lower-case field name is hop-by-hop (the one list: isHopByHopName's). */
export function isHopByHop(lowerName: string): boolean {
  return isHopByHopName(lowerName);
}

/**
 * Whether a field name as it came (any case) is hop-by-hop: connection, keep-alive,
 * proxy-connection, te, transfer-encoding, upgrade, http2-settings. By its length first, then
 * its letters, without the lower-cased copy and the hash of it a Set lookup took: every field of
 * every answer goes through it (answer-headers.ts), where those were 0.15 µs a request (issue 61).
 */
export function isHopByHopName(name: string): boolean {
  switch (name.length) {
    case 2:
      return nameIs(name, 'te');
    case 7:
      return nameIs(name, 'upgrade');
    case 10:
      return nameIs(name, 'connection') || nameIs(name, 'keep-alive');
    case 14:
      return nameIs(name, 'http2-settings');
    case 16:
      return nameIs(name, 'proxy-connection');
    case 17:
      return nameIs(name, 'transfer-encoding');
    default:
      return false;
  }
}

/**
 * Whether a Connection value is the usual one, an option alone (`keep-alive`, `close`): it names
 * no field, known at once, without a list split or a lower-cased copy. The heads' builders leave
 * such a value out of the list they give connectionNominated (a list pushed from empty takes
 * room for 17: 184 bytes a request that says `Connection: close`, issue 61).
 */
export function isLoneOption(value: string): boolean {
  return nameIs(value, 'keep-alive') || nameIs(value, 'close');
}

/**
 * Extra field names a Connection header declares hop-by-hop ("Connection: close, X-Debug").
 * Returns undefined in the common case where it names only connection options.
 */
export function connectionNominated(values: readonly string[]): Set<string> | undefined {
  let names: Set<string> | undefined;
  for (const value of values) {
    if (isLoneOption(value)) continue;
    for (const token of value.split(',')) {
      const name = trimOws(token).toLowerCase();
      if (name === '' || name === 'close' || name === 'keep-alive' || name === 'upgrade') continue;
      names ??= new Set();
      names.add(name);
    }
  }
  return names;
}

/**
 * A store's URL as ioredis must be given it: as the WHATWG parser reads it, the config's
 * reading (fleet-values.ts), its scheme in lower case. The scheme is case-insensitive (RFC 3986
 * §3.1) and the config takes `REDISS://` as TLS, but ioredis turns TLS on only for text that
 * starts with the lower-case `rediss://`: given `REDISS://` as written, it connected in plain,
 * the password in its HELLO readable on the way.
 */
export function ioredisUrl(url: string): string {
  return new URL(url).href;
}

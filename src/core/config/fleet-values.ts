/**
 * The values only several gateways need: the shared store's URL, a DNS name to discover
 * targets by, and the resolvers to ask. Their formats are registered with the others
 * (formats.ts); the normaliser reads the same parsers.
 */

import { BlockList, isIP } from 'node:net';
import { type Parsed, parseListenAddress } from './addresses.ts';
import { describeValue, withoutPassword } from './describe-value.ts';

const DNS_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** `redis://[:password@]host[:port][/db]` or `rediss://…` (TLS); nothing else, so a typo is not a silent default. */
function parseRedisUrl(text: string): Parsed<string> {
  // A problem is logged and answered by the admin API: it quotes the URL without its password.
  const got = describeValue(withoutPassword(text));
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `expected a URL like redis://127.0.0.1:6379, got ${got}` };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    return { problem: `expected a redis:// or rediss:// URL, got ${got}` };
  if (url.hostname === '')
    return { problem: `expected a URL with a host like redis://127.0.0.1:6379, got ${got}` };
  if (!/^\/?\d*$/.test(url.pathname) || url.search !== '' || url.hash !== '')
    return { problem: `expected redis://host:port with at most a database number as its path, got ${got}` };
  // ioredis percent-decodes the user and password: one it cannot decode stopped candor serve ("URI malformed").
  if (!decodable(url.username) || !decodable(url.password))
    return {
      problem: `a % in the URL's user or password starts no %XX escape (write a % as %25), got ${got}`,
    };
  return { value: text };
}

function decodable(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/** A DNS name as asked: `api.default.svc.cluster.local`, `_http._tcp.api.example.com`. */
function parseDnsName(text: string): Parsed<string> {
  if (isIP(text) !== 0 || !DNS_NAME.test(text))
    return {
      problem: `expected a DNS name like api.internal or _http._tcp.api.internal, got ${describeValue(text)}`,
    };
  return { value: text };
}

/** The unspecified address however it is written (`::`, `::0`, eight zero groups, `::ffff:0.0.0.0`). */
const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0');
UNSPECIFIED.addAddress('::', 'ipv6');

/**
 * A DNS server to ask, `host:port` (port 53 as written: `10.0.0.10:53`, `[fd00::a]:53`); an IP
 * address, not a name. Not one node:dns cannot ask, which `check` would pass and every question
 * then fail on: an IPv6 zone id (`[fe80::1%eth0]:53`: Node's `setServers` drops it, and a
 * link-local address with no interface is refused, ECONNREFUSED), an unspecified address (its
 * answers come from another address, which c-ares drops as forged: ETIMEOUT).
 */
function parseResolverAddress(text: string): Parsed<string> {
  const got = describeValue(text);
  // Before parseListenAddress, which refuses a zone id as a listen address's.
  if (/^\[[^\]]*%/.test(text))
    return {
      problem: `a DNS server's IPv6 zone id is dropped by Node's resolver (it would ask the address with no interface, and fail): give a global or unique-local address, got ${got}`,
    };
  const parsed = parseListenAddress(text);
  if ('problem' in parsed || isIP(parsed.value.host) === 0 || parsed.value.port === 0)
    return { problem: `expected an IP address and port like 10.0.0.10:53 or [fd00::a]:53, got ${got}` };
  if (UNSPECIFIED.check(parsed.value.host, isIP(parsed.value.host) === 6 ? 'ipv6' : 'ipv4'))
    return {
      problem: `an unspecified address is no DNS server: its answers come from another address, and are dropped, got ${got}`,
    };
  return { value: text };
}

export const FLEET_FORMAT = {
  redisUrl: 'candor.redis-url',
  dnsName: 'candor.dns-name',
  resolver: 'candor.resolver',
} as const;

const problemOf = <T>(parsed: Parsed<T>) => ('problem' in parsed ? parsed.problem : undefined);

export const FLEET_FORMAT_PROBLEMS: Readonly<Record<string, (text: string) => string | undefined>> = {
  [FLEET_FORMAT.redisUrl]: (text) => problemOf(parseRedisUrl(text)),
  [FLEET_FORMAT.dnsName]: (text) => problemOf(parseDnsName(text)),
  [FLEET_FORMAT.resolver]: (text) => problemOf(parseResolverAddress(text)),
};

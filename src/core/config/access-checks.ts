/** Checks of a route's access fields that span more than one of them. */

import { didYouMean } from '../did-you-mean.ts';
import { FETCH_BAD_PORTS } from '../net/fetch-bad-ports.ts';
import { canonicalIpLiteral } from '../net/ip-literal.ts';
import { describeValue } from './describe-value.ts';
import { itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report, WrittenElsewhere } from './report.ts';
import { clientCertFieldProblem, reservedHeaderProblem } from './routing-values.ts';

export function checkAccess(
  routes: unknown,
  upstreams: Record<string, unknown> | undefined,
  report: Report,
  elsewhere: WrittenElsewhere = () => undefined,
): void {
  for (const [index, route] of itemsOf(routes)) {
    const auth = mappingAt(route, 'auth');
    const ways =
      auth === undefined
        ? 1
        : ['basic', 'jwt', 'forward', 'oidc'].filter((way) => auth[way] !== undefined).length;
    // A client certificate goes alone or with one of the others (the connection's, then the request's credentials).
    if (ways > 1 || (ways === 0 && auth?.client_certificate === undefined))
      report(
        ['routes', index, 'auth'],
        'expected one way to authenticate: basic, jwt, forward or oidc (client_certificate may go with one of them)',
      );
    const jwt = mappingAt(auth, 'jwt');
    if (jwt !== undefined && (jwt.jwks_url === undefined) === (jwt.keys_file === undefined))
      report(
        ['routes', index, 'auth', 'jwt'],
        'expected where the keys are: jwks_url or keys_file (one of them)',
      );
    const port = blockedPort(stringAt(jwt, 'jwks_url'));
    if (port !== undefined)
      report(
        ['routes', index, 'auth', 'jwt', 'jwks_url'],
        `port ${port} is one the Fetch standard blocks (a bad port): the gateway's fetch of the key set would refuse it; serve the JWKS on another port`,
      );
    const parsed = URL.parse(stringAt(jwt, 'jwks_url') ?? '');
    if (parsed !== null && (parsed.username !== '' || parsed.password !== ''))
      report(
        ['routes', index, 'auth', 'jwt', 'jwks_url'],
        'a URL with credentials (user:password@) is one the Fetch standard refuses to fetch: the gateway could never read the key set; serve the JWKS where it needs none',
      );
    checkForward(mappingAt(auth, 'forward'), ['routes', index, 'auth', 'forward'], upstreams, report);
    checkUpstreamFields(auth, ['routes', index, 'auth'], report);
    // A limit by user on a route whose auth names nobody would be one by address, said to be by user.
    const forward = mappingAt(auth, 'forward');
    if (
      mappingAt(route, 'rate_limit')?.key === 'identity' &&
      (auth === undefined || (forward !== undefined && forward.identity_from === undefined))
    )
      report(
        ['routes', index, 'rate_limit', 'key'],
        // Taken from route_defaults, it is told there, once: "this route" is then named
        // (merged-places.ts names a route of an included file as its file writes it).
        (elsewhere(['routes', index, 'rate_limit', 'key']) === undefined ? '' : `for routes[${index}], `) +
          (auth === undefined
            ? "identity is the user the route's auth admitted, and this route has no auth: every request would be limited by its address"
            : "identity is the user the route's auth admitted, and its forward auth names nobody: set auth.forward.identity_from"),
      );
    const cors = mappingAt(route, 'cors');
    if (cors === undefined || !Array.isArray(cors.origins)) continue;
    cors.origins.forEach((origin, i) => {
      const problem = typeof origin === 'string' ? originPortProblem(origin) : undefined;
      if (problem !== undefined) report(['routes', index, 'cors', 'origins', i], problem);
    });
    if (cors.credentials !== true) continue;
    // Fetch refuses "*" with credentials; answering it with the caller's own origin instead
    // would hand every site on the web the user's cookies.
    if (cors.origins.includes('*'))
      report(
        ['routes', index, 'cors', 'credentials'],
        'credentials: true cannot go with the origin "*" (any site could read answers made with the user\'s cookies): list the origins that may call the route',
      );
  }
}

/** The port a scheme's URLs have when they name none: the URL standard's special schemes. */
const DEFAULT_PORTS: Readonly<Record<string, string>> = {
  http: '80',
  https: '443',
  ws: '80',
  wss: '443',
  ftp: '21',
};

/**
 * Why an origin's port is never in a browser's Origin, or undefined when it may be: a browser
 * serialises the origin with the port as a number (no leading zero) and without the scheme's
 * default one, so `https://app.example.com:443` would be compared with, and never equal,
 * the `https://app.example.com` every browser sends.
 */
function originPortProblem(origin: string): string | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/.exec(origin);
  if (m === null) return undefined;
  const [, scheme, written, port] = m;
  if (port !== undefined && Number(port) > 65535)
    return `expected a port of 1 to 65535 in the origin, got ${port}`;
  // An IPv6 host as the URL standard serialises it ([::1] for [0::1], a mapped one in hex).
  const host = written.startsWith('[') ? canonicalIpLiteral(written) : written;
  if (host === undefined)
    return `expected an IPv6 address between the brackets of the origin, got ${written}`;
  const number = port === undefined ? undefined : String(Number(port));
  const sent =
    number === undefined || number === DEFAULT_PORTS[scheme]
      ? `${scheme}://${host}`
      : `${scheme}://${host}:${number}`;
  const why =
    host === written
      ? "a port as a plain number, and none for the scheme's default"
      : "an IPv6 address as the URL standard writes it, a port as a plain number, none for the scheme's default";
  return sent === origin
    ? undefined
    : `browsers send this origin as ${JSON.stringify(sent)} (${why}), so this one would never match: write ${JSON.stringify(sent)}`;
}

/** The URL's port when fetch() would refuse it; undefined for any other (or a URL the schema refuses). */
function blockedPort(url: string | undefined): number | undefined {
  const port = url === undefined ? null : URL.parse(url)?.port;
  // An empty port is the scheme's own (80, 443): never a bad one. The JWKS is fetched with
  // fetch(), which refuses a bad port before any connection: a URL on one could never be read,
  // and every request would be told of a connection that was never made.
  return port && FETCH_BAD_PORTS.has(Number(port)) ? Number(port) : undefined;
}

/** Where the auth service is: a URL, or an upstream of the file (whose `path` is asked). */
function checkForward(
  forward: Record<string, unknown> | undefined,
  at: (string | number)[],
  upstreams: Record<string, unknown> | undefined,
  report: Report,
): void {
  if (forward === undefined) return;
  if ((forward.url === undefined) === (forward.upstream === undefined))
    return report(at, 'expected where the auth service is: url or upstream (one of them)');
  if (forward.url !== undefined && forward.path !== undefined)
    report([...at, 'path'], 'path goes with upstream: a url carries its own path');
  const url = URL.parse(stringAt(forward, 'url') ?? '');
  // As an upstream target's: the hop's address only (its credentials would be dropped unsaid).
  if (url !== null && (url.username !== '' || url.password !== ''))
    report([...at, 'url'], `expected a URL without credentials, got ${describeValue(forward.url)}`);
  const name = stringAt(forward, 'upstream');
  if (name === undefined || upstreams === undefined || Object.hasOwn(upstreams, name)) return;
  const defined = Object.keys(upstreams);
  const suggestion = didYouMean(name, defined);
  const hint =
    suggestion === undefined ? `defined: ${defined.join(', ') || 'none'}` : `did you mean '${suggestion}'?`;
  report([...at, 'upstream'], `no upstream named '${name}' (${hint})`);
}

/**
 * The fields an auth hop writes on the upstream request (forward auth's copy_headers, a JWT's or
 * an OpenID Connect session's claims_to_headers) are held to the request rules' bound: never framing, hop-by-hop or a field
 * Candor writes, or an auth service's `Content-Length: 0` (or a token's claim) would reframe the
 * client's body into a request of its own at the upstream.
 */
function checkUpstreamFields(
  auth: Record<string, unknown> | undefined,
  at: (string | number)[],
  report: Report,
): void {
  const copied = mappingAt(auth, 'forward')?.copy_headers;
  if (Array.isArray(copied)) {
    const written = new Map<string, string>();
    copied.forEach((name, i) => {
      const problem = upstreamFieldProblem(name) ?? writtenTwice(written, name, 'copied');
      if (problem !== undefined) report([...at, 'forward', 'copy_headers', i], problem);
    });
  }
  for (const method of ['jwt', 'oidc'] as const) {
    const claims = mappingAt(mappingAt(auth, method), 'claims_to_headers');
    const written = new Map<string, string>();
    for (const [claim, name] of Object.entries(claims ?? {})) {
      const problem = upstreamFieldProblem(name) ?? writtenTwice(written, name, `claim '${claim}'`);
      if (problem !== undefined) report([...at, method, 'claims_to_headers', claim], problem);
    }
  }
  const problem = upstreamFieldProblem(auth?.identity_header);
  if (problem !== undefined) report([...at, 'identity_header'], problem);
}

/**
 * A field an auth hop writes a second time in a list of them (`X-User` and `x-user`: a field name
 * is case-insensitive): both values would go upstream, two fields where the app reads one.
 * `written` holds the names seen, lowercased, with the spelling first written.
 */
function writtenTwice(written: Map<string, string>, name: unknown, what: string): string | undefined {
  if (typeof name !== 'string') return undefined;
  const lower = name.toLowerCase();
  const before = written.get(lower);
  if (before === undefined) {
    written.set(lower, name);
    return undefined;
  }
  return `'${name}' is written already as '${before}' (a field name is case-insensitive): the ${what} value would go upstream beside it, two fields where the app reads one; give each its own field`;
}

/**
 * Why an auth hop may not write the field `name` on the upstream request: the request rules'
 * bound, RFC 9440's two fields among it (clientCertFieldProblem: a user's name or a claim there
 * would be read as a certificate that is none).
 */
function upstreamFieldProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const lower = name.toLowerCase();
  return clientCertFieldProblem(lower) ?? reservedHeaderProblem(lower);
}

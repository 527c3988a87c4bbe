import { forwardedParams, joinedLines } from '../../core/net/forwarded-for.ts';
import { keyAuthority } from './key-authority.ts';

/**
 * The fields a key holds and how each is read: a host (X-Forwarded-Host's and Forwarded's
 * `host=` as one, `;host=`; another spelling's by its own name, as an app reads one and not the
 * other), a scheme (by its name, in lowercase: `On` is `on`), or a port or prefix as written.
 * The host and scheme in other proxies' spellings are those a trusted proxy's word passes on in
 * (proxys-words.ts): Rack reads X-Forwarded-Ssl (before X-Forwarded-Proto) and X-Forwarded-Scheme,
 * IIS ARR and Azure write X-Original-Host, Microsoft's Front-End-Https says `on`.
 */
const KEYED: ReadonlyMap<string, 'host' | 'forwarded' | 'port' | 'prefix' | 'other-host' | 'scheme'> =
  new Map([
    ['x-forwarded-host', 'host'],
    ['forwarded', 'forwarded'],
    ['x-forwarded-port', 'port'],
    ['x-forwarded-prefix', 'prefix'],
    ['x-original-host', 'other-host'],
    ['x-host', 'other-host'],
    ['x-http-host-override', 'other-host'],
    ['x-forwarded-server', 'other-host'],
    ['x-forwarded-ssl', 'scheme'],
    ['x-forwarded-scheme', 'scheme'],
    ['x-url-scheme', 'scheme'],
    ['front-end-https', 'scheme'],
  ]);

/** The first letters of KEYED's names (`x`, `f`), in lowercase. */
const KEYED_STARTS: ReadonlySet<number> = new Set([...KEYED.keys()].map((name) => name.charCodeAt(0)));

/**
 * What the upstream is told of the URL its client asked for beyond Host and the scheme, as a
 * stored answer's key holds it ('' when nothing): the host in X-Forwarded-Host and Forwarded's
 * `host=`, X-Forwarded-Port, X-Forwarded-Prefix, a Forwarded `proto=` that is not the
 * scheme, and the host and scheme in the other spellings (KEYED). Frameworks build absolute links and redirects from them (Django, Rails, Spring,
 * Express's `trust proxy`); a proxy in `trust_forwarded_from` that sends one Host for many sites
 * (nginx's default `proxy_set_header Host $proxy_host`) had every site's page under that Host's
 * key, one site's links given to another's clients (web cache poisoning by an unkeyed field), and
 * one that says https by `X-Forwarded-Ssl: on` alone had its https clients' page, its links
 * https, given to its http clients (a redirect to https, stored, would loop for its https ones).
 * From a client not trusted, X-Forwarded-Host and Forwarded say the Host the key holds and the
 * others are dropped (request-headers.ts): ''.
 * `headers`: flat, as the upstream gets them; `authority`: the Host it gets.
 */
export function forwardedKeyPart(headers: readonly string[], authority: string, scheme: string): string {
  const own = keyAuthority(authority, scheme);
  let part = '';
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    // Most fields are none of these: told by length and first letter before a lower-cased copy.
    if (name.length < 6 || !KEYED_STARTS.has(name.charCodeAt(0) | 0x20)) continue;
    const lower = name.toLowerCase();
    const kind = KEYED.get(lower);
    if (kind === undefined) continue;
    const value = headers[i + 1];
    if (kind === 'host') part += hosts([value], own, scheme, 'host');
    else if (kind === 'forwarded') part += forwardedPart(value, own, scheme);
    else if (kind === 'other-host') part += hosts([value], own, scheme, lower);
    else if (kind === 'scheme') part += `;${lower}=${value.trim().toLowerCase()}`;
    else part += `;${kind}=${value}`;
  }
  // Without spaces: a key's parts are told apart by them (purges, keyOnItsSide).
  return part === '' ? '' : encodeURI(`fwd${part}`);
}

/** How many Forwarded values' parts are kept (forwardedPart): emptied when full. */
const FORWARDED_KEPT = 256;
const forwardedParts = new Map<
  string,
  { readonly own: string; readonly scheme: string; readonly part: string }
>();

/**
 * Forwarded's part of the key: its `host=` and `proto=` that are not the key's own. Kept by the
 * value, with the Host and the scheme it was read for: most requests' Forwarded is this hop's element alone, the same
 * string for a client's every request to a host (request-headers.ts keeps it), and read afresh it
 * was the largest of a cache hit's allocations (4.6 KB, `bench/cost.ts --each --top`).
 */
function forwardedPart(value: string, own: string, scheme: string): string {
  // By the value alone, the Host and scheme beside it (no key string made a request).
  const kept = forwardedParts.get(value);
  if (kept !== undefined && kept.own === own && kept.scheme === scheme) return kept.part;
  const elements = joinedLines(value);
  const part = hosts(forwardedParams(elements, 'host='), own, scheme, 'host') + protos(elements, scheme);
  if (forwardedParts.size >= FORWARDED_KEPT && kept === undefined) forwardedParts.clear();
  forwardedParts.set(value, { own, scheme, part });
  return part;
}

/**
 * `;proto=` and each scheme Forwarded's elements name that is not the one the key holds (in
 * lowercase), or '': the one the request was routed by is X-Forwarded-Proto's, or the last
 * element's without it, and an app may read another (Spring the first element's, a client's
 * that the proxy passed on), building the https page's links and redirects with `http`.
 */
function protos(elements: string, scheme: string): string {
  let part = '';
  for (const proto of forwardedParams(elements, 'proto=')) {
    const normal = proto.trim().toLowerCase();
    if (normal !== '' && normal !== scheme) part += `;proto=${normal}`;
  }
  return part;
}

/** `;label=` and each host that is not the Host the key holds (in its normal form), or ''. */
function hosts(named: readonly string[], own: string, scheme: string, label: string): string {
  let part = '';
  for (const host of named) {
    const normal = keyAuthority(host.trim(), scheme);
    if (normal !== '' && normal !== own) part += `;${label}=${normal}`;
  }
  return part;
}

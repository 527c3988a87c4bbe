/**
 * Which route takes requests another route was written for: the router's order (an exact
 * host, then wildcards, longest first, then any host; within one host the longest path prefix,
 * then the route testing more conditions, then file order) read against what each route
 * matches (listener and scheme, host, path, methods, headers, query).
 *
 * Route A, tried before route B, shadows B when one request could meet both and A is not a
 * narrower case of B tried first by the router's precedence (then it is the exception it was
 * written to be):
 *
 * - A matches every request B matches: B is never used (refused);
 * - A comes first only by file order (same host and path prefix, as many conditions): which
 *   of them gets the requests that meet both is the file's order, not the routes' (refused:
 *   the route testing a header placed after routes for every GET and POST gets no GET or POST);
 * - A comes first by its host though B has the longer path prefix (a route for any host on
 *   /billing after a route for www.example.com on /): B still gets requests, but none for that
 *   host, and `candor check` says so (a warning). A longer prefix or more conditions winning is
 *   the precedence anyone reading the routes expects, and is not reported.
 *
 * Two different patterns are not compared (that cannot be decided cheaply): they are taken as
 * distinct, and neither as covering the other.
 */

import { parseRouteHost, parseRoutePath } from './addresses.ts';
import { DEFAULTS } from './defaults.ts';
import type { ListenerFact } from './listener-checks.ts';
import { isMapping, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { compileLinearPattern, routeMethods } from './routing-values.ts';
import type { PathSegment } from './schema.ts';

type Test = { value: string } | { regex: string } | { present: boolean };

/** One route as the router tries it, read from the document. */
export interface Claim {
  readonly index: number;
  readonly where: PathSegment[];
  /** Lower-cased; undefined: any host. */
  readonly host: string | undefined;
  readonly path: string;
  /** The listeners it can take requests from (after match.listener and match.scheme). */
  readonly listeners: readonly ListenerFact[];
  readonly listenerTested: boolean;
  readonly scheme: string | undefined;
  readonly methods: readonly string[] | undefined;
  readonly headers: ReadonlyMap<string, Test>;
  readonly query: ReadonlyMap<string, Test>;
}

export function claimOf(
  index: number,
  route: Record<string, unknown>,
  listeners: readonly ListenerFact[],
): Claim | undefined {
  const match = route.match === undefined ? {} : mappingAt(route, 'match');
  if (match === undefined) return undefined;
  const hostText = stringAt(match, 'host');
  const host = hostText === undefined ? undefined : parseRouteHost(hostText);
  const path = parseRoutePath(stringAt(match, 'path') ?? DEFAULTS.route.path);
  if ((host !== undefined && !('value' in host)) || !('value' in path)) return undefined;
  return {
    index,
    where: route.match === undefined ? ['routes', index] : ['routes', index, 'match'],
    host: host?.value,
    path: path.value,
    listeners,
    listenerTested: match.listener !== undefined,
    scheme: stringAt(match, 'scheme'),
    methods: Array.isArray(match.methods)
      ? routeMethods(match.methods.filter((m) => typeof m === 'string'))
      : undefined,
    headers: testsOf(mappingAt(match, 'headers'), true),
    query: testsOf(mappingAt(match, 'query'), false),
  };
}

export function checkShadows(claims: readonly Claim[], report: Report, warn: Report): void {
  const index = new ClaimIndex(claims);
  for (const b of claims) {
    // Only the routes a request of b's could meet are weighed (every A below overlaps b, and so
    // does every C that covers what A and b share).
    const near = index.near(b);
    // A narrower route tried first is an exception, unless only file order put it first.
    const first = near.filter(
      (a) =>
        a !== b &&
        triedBefore(a, b) &&
        overlap(a, b) &&
        (sameRank(a, b) || covers(a, b) || !covers(b, a)) &&
        // A route tried before both that takes every request meeting both leaves B nothing to lose
        // (looked for among the routes near what both take, not all of b's: an any-host route
        // is near every host's, and weighing each against each again made checks cubic).
        !coveredBefore(index, a, b),
    );
    if (first.length === 0) continue;
    const whole = first.find((a) => covers(a, b));
    if (whole !== undefined) {
      report(b.where, neverUsed(whole, b));
      continue;
    }
    const tied = first.filter((a) => sameRank(a, b));
    if (tied.length > 0) {
      report(b.where, fileOrder(tied, b));
      continue;
    }
    // A longer prefix or more conditions winning is what anyone reading the routes expects; a
    // host winning over a longer path is what surprises (any-host /billing after www.example.com /).
    const byHost = first.filter((a) => a.host !== b.host && a.path.length < b.path.length);
    if (byHost.length === 0) continue;
    warn(
      b.where,
      `${describeSome(byHost)} ${byHost.length === 1 ? 'is' : 'are'} tried first (${reasons(byHost, b)}, whatever the path), so this route gets none of the requests that also meet ${byHost.length === 1 ? 'its' : 'their'} conditions`,
    );
  }
}

function neverUsed(a: Claim, b: Claim): string {
  if (conditionCount(a) === 0 && conditionCount(b) === 0 && sameRank(a, b))
    return `same host and path as routes[${a.index}] (${key(b)}), so this route would never be used`;
  return `${describe(a)} is tried first (${reason(a, b)}) and matches every request this route matches, so this route would never be used`;
}

function fileOrder(tied: readonly Claim[], b: Claim): string {
  const a = tied[0];
  if (sameKinds(a, b))
    return `same host, path and conditions as routes[${a.index}] (${key(b)}): a request could meet both, and only file order would pick`;
  return `${describeSome(tied)}, earlier in the file with as many conditions on the same host and path, ${tied.length === 1 ? 'takes' : 'take'} the requests of this route that meet ${tied.length === 1 ? 'its' : 'their'} conditions too: only file order picks (make the conditions exclusive, or give the route meant to win one more condition)`;
}

/** Whether a route tried before `a` takes every request that meets both `a` and `b`. */
function coveredBefore(index: ClaimIndex, a: Claim, b: Claim): boolean {
  const shared = both(a, b);
  return index.near(shared).some((c) => c !== a && c !== b && triedBefore(c, a) && covers(c, shared));
}

/** Routes a message names: the first few, then how many more (one customer's `/` among thousands). */
const NAMED_AT_MOST = 5;

function describeSome(claims: readonly Claim[]): string {
  const named = claims.slice(0, NAMED_AT_MOST).map(describe);
  const more = claims.length - named.length;
  return more === 0
    ? named.join(' and ')
    : `${named.join(' and ')} and ${more} more ${more === 1 ? 'route' : 'routes'}`;
}

/** "routes[2] (methods GET, POST)": a route and what it tests. */
function describe(claim: Claim): string {
  const parts: string[] = [];
  if (claim.listenerTested)
    parts.push(`listener ${[...new Set(claim.listeners.map((l) => l.name))].join(', ')}`);
  if (claim.scheme !== undefined) parts.push(`scheme ${claim.scheme}`);
  if (claim.methods !== undefined) parts.push(`methods ${claim.methods.join(', ')}`);
  for (const [what, tests] of [
    ['header', claim.headers],
    ['query', claim.query],
  ] as const)
    for (const [name, test] of tests) parts.push(`${what} ${name} ${describeTest(test)}`);
  const shown = parts.length === 0 ? key(claim) : `${key(claim)}, ${parts.join('; ')}`;
  return `routes[${claim.index}] (${shown})`;
}

function describeTest(test: Test): string {
  if ('value' in test) return `= ${JSON.stringify(test.value)}`;
  if ('regex' in test) return `~ ${JSON.stringify(test.regex)}`;
  return test.present ? 'present' : 'absent';
}

function key(claim: Claim): string {
  return `${claim.host ?? ''}${claim.path}`;
}

function reasons(first: readonly Claim[], b: Claim): string {
  return [...new Set(first.map((a) => reason(a, b)))].join('; ');
}

/** Why the router tries `a` before `b`. */
function reason(a: Claim, b: Claim): string {
  if (a.host !== b.host) {
    if (a.host !== undefined && !a.host.startsWith('*.'))
      return 'an exact host before a wildcard or any host';
    if (b.host === undefined) return 'a wildcard host before any host';
    return 'a longer wildcard host first';
  }
  if (a.path.length !== b.path.length) return 'a longer path prefix first';
  if (conditionCount(a) !== conditionCount(b)) return 'more conditions first';
  return 'earlier in the file';
}

// ── the router's order ──────────────────────────────────────────────────────────

/** The router's host groups: exact (0), wildcards longest suffix first, any host last. */
function hostRank(host: string | undefined): number {
  if (host === undefined) return Number.MAX_SAFE_INTEGER;
  return host.startsWith('*.') ? 1_000 - host.length : 0;
}

function conditionCount(claim: Claim): number {
  const kinds = [claim.listenerTested ? 1 : undefined, claim.scheme, claim.methods].filter(
    (tested) => tested !== undefined,
  ).length;
  return kinds + claim.headers.size + claim.query.size;
}

function sameRank(a: Claim, b: Claim): boolean {
  return a.host === b.host && a.path === b.path && conditionCount(a) === conditionCount(b);
}

/** For a request both could take: whether the router tries `a` first. */
export function triedBefore(a: Claim, b: Claim): boolean {
  if (a.host !== b.host) return hostRank(a.host) < hostRank(b.host);
  return (
    b.path.length - a.path.length < 0 ||
    (a.path.length === b.path.length &&
      (conditionCount(a) > conditionCount(b) ||
        (conditionCount(a) === conditionCount(b) && a.index < b.index)))
  );
}

// ── what the routes match ───────────────────────────────────────────────────────

/** Whether one request could meet both routes. */
function overlap(a: Claim, b: Claim): boolean {
  return (
    hostsMeet(a.host, b.host) &&
    (prefixCovers(a.path, b.path) || prefixCovers(b.path, a.path)) &&
    a.listeners.some((listener) => b.listeners.includes(listener)) &&
    (a.methods === undefined || b.methods === undefined || a.methods.some((m) => b.methods?.includes(m))) &&
    fieldsMeet(a.headers, b.headers) &&
    fieldsMeet(a.query, b.query)
  );
}

/** Whether every request `b` matches, `a` matches too. */
function covers(a: Claim, b: Claim): boolean {
  return (
    hostCovers(a.host, b.host) &&
    prefixCovers(a.path, b.path) &&
    b.listeners.every((listener) => a.listeners.includes(listener)) &&
    methodsCover(a.methods, b.methods) &&
    fieldsCover(a.headers, b.headers) &&
    fieldsCover(a.query, b.query)
  );
}

/** The requests that meet both routes, as one claim (the routes overlap). */
function both(a: Claim, b: Claim): Claim {
  const methods =
    a.methods === undefined ? b.methods : (b.methods?.filter((m) => a.methods?.includes(m)) ?? a.methods);
  return {
    ...b,
    host: hostCovers(a.host, b.host) ? b.host : a.host,
    path: a.path.length > b.path.length ? a.path : b.path,
    listeners: a.listeners.filter((listener) => b.listeners.includes(listener)),
    methods,
    headers: new Map([...a.headers, ...b.headers]),
    query: new Map([...a.query, ...b.query]),
  };
}

function methodsCover(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined) return true;
  return b?.every((method) => a.includes(method)) === true;
}

function hostsMeet(a: string | undefined, b: string | undefined): boolean {
  return hostCovers(a, b) || hostCovers(b, a);
}

export function hostCovers(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || a === b) return true;
  if (b === undefined || !a.startsWith('*.')) return false;
  return b.endsWith(a.slice(1));
}

/** The router's prefix rule: "/v1" covers "/v1" and "/v1/…", never "/v10". */
export function prefixCovers(prefix: string, path: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

function fieldsMeet(a: ReadonlyMap<string, Test>, b: ReadonlyMap<string, Test>): boolean {
  for (const [name, test] of a) {
    const other = b.get(name);
    if (other !== undefined && !agree(test, other)) return false;
  }
  return true;
}

/** Every test of `a` passes for whatever passes `b`'s test on the same field. */
function fieldsCover(a: ReadonlyMap<string, Test>, b: ReadonlyMap<string, Test>): boolean {
  for (const [name, test] of a) {
    const other = b.get(name);
    if (other === undefined || !implies(other, test)) return false;
  }
  return true;
}

/** Whether one value could pass both tests (different patterns: not decided, taken as distinct). */
function agree(a: Test, b: Test): boolean {
  if ('present' in a || 'present' in b) {
    const [p, other] = 'present' in a ? [a, b] : [b as { present: boolean }, a];
    return 'present' in other ? other.present === p.present : p.present;
  }
  if ('value' in a && 'value' in b) return a.value === b.value;
  if ('regex' in a && 'regex' in b) return a.regex === b.regex;
  const [value, regex] =
    'value' in a ? [a.value, (b as { regex: string }).regex] : [(b as { value: string }).value, a.regex];
  return patternMatches(regex, value);
}

/** Whether every value that passes `b` passes `a`. */
function implies(b: Test, a: Test): boolean {
  if ('present' in a) return a.present ? !('present' in b) || b.present : 'present' in b && !b.present;
  if ('present' in b) return false;
  if ('value' in a) return 'value' in b && a.value === b.value;
  if ('regex' in b) return b.regex === a.regex;
  return patternMatches(a.regex, b.value);
}

function patternMatches(regex: string, value: string): boolean {
  const compiled = compileLinearPattern(regex);
  return 'value' in compiled && compiled.value.test(value);
}

function testsOf(tests: Record<string, unknown> | undefined, lower: boolean): Map<string, Test> {
  const out = new Map<string, Test>();
  for (const [name, test] of Object.entries(tests ?? {})) {
    const key = lower ? name.toLowerCase() : name;
    if (typeof test === 'string') out.set(key, { value: test });
    else if (isMapping(test) && typeof test.regex === 'string') out.set(key, { regex: test.regex });
    else if (isMapping(test) && typeof test.present === 'boolean') out.set(key, { present: test.present });
  }
  return out;
}

/** The old rule's case: the same kinds of condition on the same names (its message is kept). */
function sameKinds(a: Claim, b: Claim): boolean {
  const names = (m: ReadonlyMap<string, Test>) => [...m.keys()].sort().join('\n');
  return (
    (a.methods === undefined) === (b.methods === undefined) &&
    a.listenerTested === b.listenerTested &&
    a.scheme === b.scheme &&
    names(a.headers) === names(b.headers) &&
    names(a.query) === names(b.query)
  );
}

// ── the routes near each other ──────────────────────────────────────────────────

/** One host's claims (or any host's): by path, and their distinct paths sorted. */
interface HostClaims {
  readonly byPath: Map<string, Claim[]>;
  paths: string[];
}

/**
 * The claims grouped by host, then path, so that each route is weighed against the routes a
 * request of its could also meet (their hosts meet, one path covers the other), not against
 * every route: a gateway of one route per customer domain, or of thousands of paths on one API
 * host, took seconds to check (8,000 routes 13 s, past the 10 s a reload waits for its config).
 * A superset of what overlap() accepts: the checks run on what it gives are the same.
 */
export class ClaimIndex {
  /** By host, lower-cased as the claims hold it; '' for the routes of any host. */
  readonly #hosts = new Map<string, HostClaims>();
  /** The wildcard hosts that have routes (`*.example.com`). */
  readonly #wildcards: string[] = [];

  constructor(claims: readonly Claim[]) {
    for (const claim of claims) {
      const key = claim.host ?? '';
      let group = this.#hosts.get(key);
      if (group === undefined) {
        group = { byPath: new Map(), paths: [] };
        this.#hosts.set(key, group);
        if (key.startsWith('*.')) this.#wildcards.push(key);
      }
      const same = group.byPath.get(claim.path);
      if (same === undefined) group.byPath.set(claim.path, [claim]);
      else same.push(claim);
    }
    // (Sorted by UTF-16 code units, as < compares: the paths under a prefix are one run.)
    for (const group of this.#hosts.values()) group.paths = [...group.byPath.keys()].sort();
  }

  /** The claims whose host meets `b`'s and whose path covers or is covered by `b`'s, in file order. */
  near(b: Claim): Claim[] {
    // (A set: a path of `//` would be its own prefix `/` twice.)
    const found = new Set<Claim>();
    for (const group of this.#hostsMeeting(b.host)) this.#pathsMeeting(group, b.path, found);
    return [...found].sort((x, y) => x.index - y.index);
  }

  #hostsMeeting(host: string | undefined): HostClaims[] {
    if (host === undefined) return [...this.#hosts.values()];
    const groups: HostClaims[] = [];
    const add = (key: string) => {
      const group = this.#hosts.get(key);
      if (group !== undefined) groups.push(group);
    };
    add('');
    add(host);
    if (!host.startsWith('*.')) {
      // The wildcards over an exact host: one a label it ends with (`*.b.example.com`, `*.example.com`, `*.com`).
      for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1))
        add(`*${host.slice(dot)}`);
      return groups;
    }
    // A wildcard meets the hosts under it and the wildcards over or under it: few routes are
    // wildcards, so each looks through the hosts once.
    for (const key of this.#hosts.keys())
      if (key !== '' && key !== host && (hostCovers(host, key) || hostCovers(key, host))) add(key);
    return groups;
  }

  #pathsMeeting(group: HostClaims, path: string, found: Set<Claim>): void {
    const addAll = (claims: readonly Claim[] | undefined) => {
      for (const claim of claims ?? []) found.add(claim);
    };
    if (path === '/') {
      for (const claims of group.byPath.values()) addAll(claims);
      return;
    }
    // The prefixes that cover it: `/`, and each of its own up to a `/` (`/a`, `/a/b` of `/a/b/c`), and itself.
    const take = (prefix: string) => addAll(group.byPath.get(prefix));
    take('/');
    for (let slash = path.indexOf('/', 1); slash !== -1; slash = path.indexOf('/', slash + 1))
      take(path.slice(0, slash));
    take(path);
    // The paths it covers: those that begin with it and a `/`, a run of the sorted paths
    // (`/` is 0x2F, `0` the code unit after it).
    const from = `${path}/`;
    const to = `${path}0`;
    const paths = group.paths;
    for (let i = firstAtLeast(paths, from); i < paths.length && paths[i] < to; i++) take(paths[i]);
  }
}

/** The first place in `sorted` whose string is not below `value`. */
function firstAtLeast(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

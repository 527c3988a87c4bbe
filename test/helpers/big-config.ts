/**
 * A config at a large operator's scale, made from a seed: thousands of routes over exact hosts,
 * wildcard hosts (nested ones too) and no host, path prefixes three segments deep, and condition
 * sets that `candor check` accepts together (methods, header values, `present`, patterns, a query
 * parameter), spread over a main file and included files; hundreds of upstreams. Beside it, the
 * router's precedence as docs/configuration.md states it (`routes`, `routes[].match.*`), written
 * from the docs and not from src/, for tests to hold the gateway's choice against.
 */

/** One route as the generator wrote it, in the router's file order (the main file's, then each include's). */
export interface BigRoute {
  readonly name: string;
  /** `h3.example.com`, `*.w1.example.com`, or undefined: any host. */
  readonly host: string | undefined;
  readonly path: string;
  readonly methods: readonly string[] | undefined;
  /** Lower-case name → condition. */
  readonly headers: ReadonlyMap<string, { value: string } | { present: boolean } | { regex: string }>;
  readonly query: ReadonlyMap<string, { value: string }>;
  readonly upstream: string;
  /** Where it is written: undefined for the main file, else the included file's name. */
  readonly file: string | undefined;
}

export interface BigConfig {
  readonly routes: readonly BigRoute[];
  readonly upstreams: readonly string[];
  /** The main file's text, without `listen` (and `name`), its `include` naming `conf.d/*.yaml` when there are includes. */
  readonly main: string;
  /** Included file name (under conf.d/) → text. */
  readonly includes: ReadonlyMap<string, string>;
  readonly exactHosts: readonly string[];
  readonly wildcardDomains: readonly string[];
  readonly prefixes: readonly string[];
}

/** Each template's conditions; a key (host, path) takes a subset of them, which check accepts together. */
const TEMPLATES: readonly {
  methods?: string[];
  headers?: [string, { value: string } | { present: boolean } | { regex: string }][];
  query?: [string, { value: string }][];
}[] = [
  {},
  { methods: ['POST'] },
  { methods: ['DELETE'] },
  { methods: ['GET'], headers: [['x-v', { value: '2' }]] },
  { methods: ['GET'], headers: [['x-v', { present: true }]], query: [['debug', { value: '1' }]] },
  { methods: ['PUT'], headers: [['x-t', { regex: '^t[0-9]+$' }]] },
  // Two different patterns are never compared (docs: "taken as distinct"): a request both meet
  // is settled by file order, the main file's first, then the includes' in their order.
  { methods: ['PATCH'], headers: [['x-r', { regex: 'a' }]] },
  { methods: ['PATCH'], headers: [['x-r', { regex: 'b' }]] },
];

/** A small seeded generator (mulberry32): the same seed, the same config. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BigConfigOptions {
  readonly seed: number;
  /** Routes wanted, about (whole (host, path) keys are taken). */
  readonly routes: number;
  readonly upstreams: number;
  /** Files the routes are spread over besides the main one. */
  readonly includes: number;
  /** Upstream name → its target URL (the same for every upstream when a string). */
  readonly target: string | ((upstream: string) => string);
  /** Each route sets `X-Route: <its name>` on what it sends upstream, for a test to see which route it took. */
  readonly tagRoutes?: boolean;
}

export function bigConfig(options: BigConfigOptions): BigConfig {
  const random = seeded(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const exactHosts = Array.from({ length: 60 }, (_, i) => `h${i}.example.com`);
  const wildcardDomains = [
    'example.com',
    ...Array.from({ length: 12 }, (_, i) => `w${i}.example.com`),
    ...Array.from({ length: 6 }, (_, i) => `z${i}.w${i}.example.com`),
  ];
  const hosts: (string | undefined)[] = [undefined, ...exactHosts, ...wildcardDomains.map((d) => `*.${d}`)];
  const prefixes: string[] = ['/'];
  for (let a = 0; a < 12; a++) {
    prefixes.push(`/p${a}`);
    for (let b = 0; b < 6; b++) {
      prefixes.push(`/p${a}/q${b}`);
      for (let c = 0; c < 3; c++) prefixes.push(`/p${a}/q${b}/r${c}`);
    }
  }
  const upstreams = Array.from({ length: options.upstreams }, (_, i) => `u${i}`);
  const taken = new Set<string>();
  const written: Omit<BigRoute, 'file'>[] = [];
  while (written.length < options.routes) {
    const host = pick(hosts);
    const path = pick(prefixes);
    const key = `${host ?? ''}${path}`;
    if (taken.has(key)) continue;
    taken.add(key);
    for (const template of TEMPLATES) {
      if (random() < 0.45) continue;
      // Some routes go unnamed: their name is the default `<host><path>` (first of a key only,
      // so that no name is made twice: check would warn of that, and this config has none).
      const named = !(template === TEMPLATES[0] && random() < 0.2);
      written.push({
        name: named ? `r${written.length}` : key,
        host,
        path,
        methods: template.methods,
        headers: new Map(template.headers ?? []),
        query: new Map(template.query ?? []),
        upstream: pick(upstreams),
      });
    }
  }
  // Shuffled, so that the file's order says nothing of the precedence.
  for (let i = written.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [written[i], written[j]] = [
      written[j] as (typeof written)[number],
      written[i] as (typeof written)[number],
    ];
  }
  const files = options.includes;
  const perFile = Math.ceil(written.length / (files + 1));
  const routes: BigRoute[] = written.map((r, i) => {
    const slot = Math.floor(i / perFile);
    return { ...r, file: slot === 0 ? undefined : `part-${String(slot).padStart(3, '0')}.yaml` };
  });
  const routeYaml = (r: BigRoute) => {
    const match: string[] = [];
    if (r.host !== undefined) match.push(`host: "${r.host}"`);
    match.push(`path: ${r.path}`);
    if (r.methods) match.push(`methods: [${r.methods.join(', ')}]`);
    if (r.headers.size > 0) {
      const fields = [...r.headers].map(([name, test]) => {
        const shown = name === 'x-v' ? 'X-V' : name;
        if ('value' in test) return `${shown}: "${test.value}"`;
        if ('present' in test) return `${shown}: { present: ${test.present} }`;
        return `${shown}: { regex: "${test.regex}" }`;
      });
      match.push(`headers: { ${fields.join(', ')} }`);
    }
    if (r.query.size > 0)
      match.push(`query: { ${[...r.query].map(([n, t]) => `${n}: "${t.value}"`).join(', ')} }`);
    const named = r.name !== `${r.host ?? ''}${r.path}`;
    const tag = options.tagRoutes ? `    request_headers: { set: { X-Route: "${r.name}" } }\n` : '';
    return `  - ${named ? `name: ${r.name}\n    ` : ''}match: { ${match.join(', ')} }\n    upstream: ${r.upstream}\n${tag}`;
  };
  const target = typeof options.target === 'string' ? () => options.target as string : options.target;
  const upstreamYaml = upstreams.map((u) => `  ${u}:\n    targets:\n      - url: ${target(u)}\n`).join('');
  const includes = new Map<string, string>();
  for (const r of routes) {
    if (r.file === undefined) continue;
    includes.set(r.file, (includes.get(r.file) ?? 'routes:\n') + routeYaml(r));
  }
  const main = `${files > 0 ? 'include: [conf.d/*.yaml]\n' : ''}routes:\n${routes
    .filter((r) => r.file === undefined)
    .map(routeYaml)
    .join('')}upstreams:\n${upstreamYaml}`;
  return { routes, upstreams, main, includes, exactHosts, wildcardDomains, prefixes };
}

/** A request as the router reads it. */
export interface BigRequest {
  readonly host: string;
  readonly path: string;
  readonly method: string;
  /** Lower-case name → value. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The route docs/configuration.md says takes `req`: "The most specific route wins, whatever the
 * order: exact host, then wildcard host (longest suffix first), then routes without a host; within
 * each, the longest path prefix; among routes of the same host and path prefix, the one testing
 * more conditions first (…), then file order"; a host compared case-insensitively, without the
 * port and a trailing dot; `*.example.com` any subdomain at any depth, not the bare domain; a path
 * prefix on segment boundaries; `methods` with GET takes HEAD; a header's value the whole field, a
 * pattern found anywhere; a query parameter the first of its name, decoded.
 */
export function expectedRoute(routes: readonly BigRoute[], req: BigRequest): BigRoute | undefined {
  let host = req.host.toLowerCase().replace(/:\d+$/, '');
  if (host.endsWith('.')) host = host.slice(0, -1);
  const queryAt = req.path.indexOf('?');
  const pathOnly = queryAt === -1 ? req.path : req.path.slice(0, queryAt);
  const params = new URLSearchParams(queryAt === -1 ? '' : req.path.slice(queryAt + 1));
  const hostRank = (r: BigRoute): number | undefined => {
    if (r.host === undefined) return 0;
    if (r.host.startsWith('*.')) {
      const suffix = r.host.slice(1);
      return host.endsWith(suffix) && host.length > suffix.length ? 1 + suffix.length : undefined;
    }
    return r.host === host ? 10_000 : undefined;
  };
  const prefixMatches = (prefix: string) =>
    prefix === '/' || pathOnly === prefix || pathOnly.startsWith(`${prefix}/`);
  const meets = (r: BigRoute) => {
    if (r.methods && !r.methods.includes(req.method) && !(req.method === 'HEAD' && r.methods.includes('GET')))
      return false;
    for (const [name, test] of r.headers) {
      const value = req.headers[name];
      if ('present' in test) {
        if ((value !== undefined) !== test.present) return false;
      } else if (value === undefined) return false;
      else if ('value' in test ? value !== test.value : !new RegExp(test.regex).test(value)) return false;
    }
    for (const [name, test] of r.query) if (params.get(name) !== test.value) return false;
    return true;
  };
  const count = (r: BigRoute) => (r.methods ? 1 : 0) + r.headers.size + r.query.size;
  let best: { route: BigRoute; rank: number; index: number } | undefined;
  routes.forEach((route, index) => {
    const rank = hostRank(route);
    if (rank === undefined || !prefixMatches(route.path) || !meets(route)) return;
    if (
      best === undefined ||
      rank > best.rank ||
      (rank === best.rank &&
        (route.path.length > best.route.path.length ||
          (route.path.length === best.route.path.length && count(route) > count(best.route))))
    )
      best = { route, rank, index };
  });
  return best?.route;
}

/**
 * What one request costs Candor's worker: CPU microseconds (user + system, process.cpuUsage,
 * the same counters as /proc/<pid>/stat) and bytes and objects allocated (V8's sampling heap
 * profiler, every sampled allocation counted, those collected since too). Candor runs in this
 * process as a worker does (one gateway, no cluster); the origin and the client are child
 * processes, so their CPU is not counted. The allocations do not depend on the machine's load;
 * the CPU does, less than a throughput does but still: on the 2-core VM with other work on both
 * cores, an A/A run (`--ref=.`, the same code on both sides) put the sides 10–20 % apart, and 7 %
 * apart on a quiet machine (4 rounds). Take CPU figures on a quiet machine, and judge a change
 * by many alternated rounds against an A/A run of the same length.
 *
 *   node bench/cost.ts                          # keep-alive, close, h2c: 20 000 requests each, 3 rounds
 *   node bench/cost.ts --paths=keepalive --n=50000 --rounds=5
 *   node bench/cost.ts --cpu-prof=/tmp/prof     # a .cpuprofile per path, and where the CPU goes (own JS, node's, native, GC)
 *   node bench/cost.ts --top=15                 # the 15 functions that allocate the most per path
 *   node bench/cost.ts --memory=1000            # held per idle keep-alive connection, per request in flight
 *   node bench/cost.ts --tail=100000            # 200 connections: latencies, event-loop stalls, GC pauses
 *   node bench/cost.ts --canary                 # the same route with a canary beside it without (issue 36)
 *   node bench/cost.ts --plugin                 # the same route with one no-op plugin beside it without (issue 57)
 *   node bench/cost.ts --features --ref=DIR     # a route with every feature of the request path, here and in DIR (issue 55)
 *   node bench/cost.ts --features=light --ref=DIR  # the route it had before: header rules, CORS and compression only
 *   node bench/cost.ts --each                   # the plain route with each feature on alone, and beside a route with all of them (issue 61)
 *   node bench/cost.ts --ceiling                # the ceilings (bench/peers/net-proxy.mjs, h2-net-proxy.mjs) as a side too
 *   node bench/cost.ts --ceiling --floor        # and the contract's floors (bench/peers/contract-floor.ts, h2-contract-floor.ts)
 *
 * Paths: `keepalive` (50 keep-alive connections, GET /small), `close` (a new connection per
 * request, 50 at once), `h2c` (one HTTP/2 connection with prior knowledge, 100 streams at once).
 * Each round measures CPU with no profiler attached, then allocations in a run of its own.
 * `--ref=DIR` runs the same measure on another checkout's src/ (e.g. a `git worktree` of the
 * previous release) in the same run, rounds alternated with this one; `--ref-flags="…"` gives the
 * ref side's process V8 flags of its own (`--ref=. --ref-flags="--single-threaded-gc"`: this
 * checkout with and without a flag, as a worker's flags are chosen). `--canary` adds two sides
 * of this checkout: "split", the route split by weight between two upstreams (of the same
 * origin), and "canary", the route with a canary on those two (its controller judging in this
 * process every second, as a gateway run in-process does), against "this", the plain route, in
 * the same run, rounds alternated; a table of ratios follows (issue 36's target: a canary costs
 * a request one counter update and one latency sample). `--ceiling` adds the side "ceiling":
 * bench/peers/net-proxy.mjs (the HTTP/1.1 paths) and h2-net-proxy.mjs (h2c) in the side's
 * process instead of Candor, measured the same way, so that what node:net and node:http2
 * themselves cost a request is read beside what Candor adds. `--floor` adds the side "floor":
 * bench/peers/contract-floor.ts and h2-contract-floor.ts, the ceilings doing also what the
 * contract asks of every request with Candor's own code (the strict parsers, the head builder,
 * the id, the access line): what Candor adds past the contract's own musts is read against it.
 * `--features` adds the side "features" (and with `--ref`, "ref-features"): the route with every
 * feature a route turns on by config alone on the request path: an IP allow list, Basic
 * authentication (the client sends its credentials; the gateway remembers good ones, so a
 * request costs the HMAC of a remembered login, not a hash), the split (two upstreams of the same
 * origin by weight), request and response header rules, CORS, compression and the response
 * cache. The origin marks its answers to that route `Cache-Control: private` (the client asks
 * /private), so every request crosses the cache stage, misses and is not stored: the cache's
 * per-request cost, not a hit's (bench/cache-hit.ts measures hits). Until issue 55's item on it,
 * the side had header rules, CORS and compression only: `--features=light` runs that route.
 * `--each` adds a side a feature (EACH below): the plain route with that one feature on, its
 * requests meeting it as a client of it would (Basic's credentials, CORS's `Origin`, a hit of
 * `cache` with a lifetime, a miss of one its origin's `private` keeps from storing), and the side
 * "beside": the plain route in a config whose other route has every feature on and a plugin, which
 * this route's requests never take (what a feature costs the routes that do not turn it on); then a
 * table of each side's difference from the plain route ("this").
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WORKER_V8_FLAGS } from '../src/server/cluster/worker-flags.ts';

type PathId = 'keepalive' | 'close' | 'h2c';
/**
 * The gateway's one route: plain; a split between two upstreams (of the same origin) by weight,
 * with no canary; or with a canary, its baseline and canary upstreams of the same origin.
 */
type RouteKind =
  | 'plain'
  | 'split'
  | 'canary'
  | 'features'
  | 'features-light'
  | 'plugin'
  | 'beside'
  | EachFeature;
/** The features `--each` turns on one at a time on the plain route (each a side of its own). */
const EACH = [
  'allow',
  'basic-auth',
  'request-headers',
  'response-headers',
  'cors',
  'compression',
  'rate-limit',
  'cache-hit',
  'cache-miss',
] as const;
type EachFeature = (typeof EACH)[number];
const PATHS: readonly PathId[] = ['keepalive', 'close', 'h2c'];

interface Options {
  paths: PathId[];
  n: number;
  rounds: number;
  cpuProf: string | undefined;
  top: number;
  ref: string | undefined;
  /** V8 flags for the ref side's process only (`--ref=. --ref-flags="…"`: this checkout with and without them). */
  refFlags: string[];
  /** Internal: run one side of the measure and print its figures as JSON. */
  side: string | undefined;
  interval: number;
  /** Connections (idle, then with a request held) for the memory measure; 0: none. */
  memory: number;
  /** Requests at 200 connections for the tail measure; 0: none. */
  tail: number;
  /** Add the sides "split" and "canary": the route split without a canary, and with one (issue 36). */
  canary: boolean;
  /**
   * Add the side "features" with this route (and with --ref the ref's): every feature on (its
   * stages; see the top comment), or (`--features=light`) header rules, CORS and compression only.
   */
  features: 'features' | 'features-light' | undefined;
  /** Add the side "plugin": the route with one no-op plugin (bench/noop-plugin.ts, issue 57). */
  plugin: boolean;
  /** Add a side a feature of EACH, with "split", "canary", "plugin" and "beside" (issue 61). */
  each: boolean;
  /** Add the side "ceiling": the node:net and node:http2 ceilings in place of Candor. */
  ceiling: boolean;
  /** Add the side "floor": the ceilings doing also the contract's musts (contract-floor.ts, h2-contract-floor.ts). */
  floor: boolean;
  /** Internal: the route of the side run. */
  route: RouteKind;
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    paths: [...PATHS],
    n: 20_000,
    rounds: 3,
    cpuProf: undefined,
    top: 0,
    ref: undefined,
    refFlags: [],
    side: undefined,
    interval: 64,
    memory: 0,
    tail: 0,
    canary: false,
    features: undefined,
    plugin: false,
    each: false,
    ceiling: false,
    floor: false,
    route: 'plain',
  };
  for (const arg of argv) {
    const [key, value = ''] = arg.replace(/^--/, '').split(/=(.*)/s);
    if (key === 'paths') o.paths = value.split(',').filter((p): p is PathId => PATHS.includes(p as PathId));
    else if (key === 'n') o.n = Number(value);
    else if (key === 'rounds') o.rounds = Number(value);
    else if (key === 'cpu-prof') o.cpuProf = value;
    else if (key === 'top') o.top = Number(value);
    else if (key === 'ref') o.ref = resolve(value);
    else if (key === 'ref-flags') o.refFlags = value.split(' ').filter(Boolean);
    else if (key === 'side') o.side = value;
    else if (key === 'interval') o.interval = Number(value);
    else if (key === 'memory') o.memory = Number(value);
    else if (key === 'tail') o.tail = Number(value);
    else if (key === 'canary') o.canary = true;
    else if (key === 'features') o.features = value === 'light' ? 'features-light' : 'features';
    else if (key === 'plugin') o.plugin = true;
    else if (key === 'each') o.each = true;
    else if (key === 'ceiling') o.ceiling = true;
    else if (key === 'floor') o.floor = true;
    else if (key === 'route') o.route = value in ROUTES ? (value as RouteKind) : 'plain';
    else throw new Error(`unknown option ${arg} (see the comment at the top of bench/cost.ts)`);
  }
  return o;
}

/** The origin: 100 bytes to every request, keep-alive, on raw node:net (its CPU is not counted). */
const ORIGIN = `
import { createServer } from 'node:net';
const body = 'x'.repeat(100);
const answer = 'HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: 100\\r\\n\\r\\n' + body;
// What no shared cache stores: the answer to /private (the features route's cache misses every request).
const uncached = 'HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncache-control: private\\r\\ncontent-length: 100\\r\\n\\r\\n' + body;
const server = createServer({ noDelay: true }, (s) => {
  let pending = '';
  s.on('error', () => {});
  s.on('data', (d) => {
    pending += d.toString('latin1');
    let end;
    let out = '';
    while ((end = pending.indexOf('\\r\\n\\r\\n')) >= 0) {
      if (pending.startsWith('GET /hold')) setTimeout(() => s.write(answer, 'latin1'), 3000);
      else out += pending.startsWith('GET /private') ? uncached : answer;
      pending = pending.slice(end + 4);
    }
    if (out) s.write(out, 'latin1');
  });
}).listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

/** The client: runs n requests over the path's connections when told, answers when done. */
const CLIENT = `
import { connect } from 'node:net';
import http2 from 'node:http2';
// The path asked and the fields sent besides the client's own, by the side's route (requestOf).
let target = '/small';
let fields = {};
let extra = '';
const KEEP = (port) => 'GET ' + target + ' HTTP/1.1\\r\\nhost: 127.0.0.1:' + port + '\\r\\nuser-agent: cost\\r\\naccept: */*\\r\\n' + extra + '\\r\\n';
const CLOSE = (port) => 'GET ' + target + ' HTTP/1.1\\r\\nhost: 127.0.0.1:' + port + '\\r\\nuser-agent: cost\\r\\naccept: */*\\r\\n' + extra + 'connection: close\\r\\n\\r\\n';
let sockets = [];
let h2;
function keepalive(port, n, conns, done) {
  let left = n, running = 0;
  const one = (s) => {
    if (left <= 0) { if (--running === 0) done(); return; }
    left--;
    s.sentAt = performance.now();
    s.write(KEEP(port));
  };
  while (sockets.length < conns) {
    const s = connect(port, '127.0.0.1'); s.setNoDelay(true); s.on('error', (e) => { throw e; });
    sockets.push(s);
  }
  for (const s of sockets) {
    let got = '';
    s.removeAllListeners('data');
    s.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\\r\\n\\r\\n');
      if (end < 0) return;
      const len = Number(/content-length: *(\\d+)/i.exec(got.slice(0, end))[1]);
      if (got.length < end + 4 + len) return;
      if (!got.startsWith('HTTP/1.1 200')) throw new Error(got.slice(0, 200));
      got = got.slice(end + 4 + len);
      latencies.push(performance.now() - s.sentAt);
      one(s);
    });
    running++;
    one(s);
  }
}
function close(port, n, conns, done) {
  let left = n, running = 0;
  const one = () => {
    if (left <= 0) { if (--running === 0) done(); return; }
    left--;
    const s = connect(port, '127.0.0.1'); s.setNoDelay(true);
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', (e) => { throw e; });
    s.on('close', () => { if (!got.startsWith('HTTP/1.1 200')) throw new Error('close: ' + got.slice(0, 200)); one(); });
    s.write(CLOSE(port));
  };
  for (let i = 0; i < conns; i++) { running++; one(); }
}
function h2c(port, n, streams, done) {
  h2 ??= http2.connect('http://127.0.0.1:' + port);
  let left = n, running = 0;
  const one = () => {
    if (left <= 0) { if (--running === 0) done(); return; }
    left--;
    const req = h2.request({ ':path': target, 'user-agent': 'cost', accept: '*/*', ...fields });
    req.on('response', (h) => { if (h[':status'] !== 200) throw new Error('h2 ' + h[':status']); });
    req.resume();
    req.on('end', one);
    req.on('error', (e) => { throw e; });
  };
  for (let i = 0; i < streams; i++) { running++; one(); }
}
/** k connections that each made one request and stay open, idle; or k requests held by the origin. */
const kept = [];
function openIdle(port, k, hold, done) {
  let left = k;
  for (let i = 0; i < k; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', (e) => { throw e; });
    kept.push(s);
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); if (!hold && got.endsWith('x'.repeat(10)) && --left === 0) done(); });
    s.write(hold ? KEEP(port).replace('/small', '/hold') : KEEP(port));
  }
  if (hold) setTimeout(done, 1500);
}
const latencies = [];
process.on('message', ({ path, port, n, request }) => {
  target = request.target;
  fields = request.fields;
  extra = Object.entries(fields).map(([name, value]) => name + ': ' + value + '\\r\\n').join('');
  const done = () => {
    const sorted = latencies.splice(0).sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    process.send({ p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) });
  };
  if (path === 'idle' || path === 'hold') openIdle(port, n, path === 'hold', done);
  else if (path === 'drop') { for (const s of kept.splice(0)) s.destroy(); setTimeout(done, 500); }
  else if (path === 'keepalive') keepalive(port, n, 50, done);
  else if (path === 'keepalive200') keepalive(port, n, 200, done);
  else if (path === 'close') close(port, n, 50, done);
  else h2c(port, n, 100, done);
});
`;

function child(code: string): ChildProcess {
  return fork('-', [], {
    execArgv: ['--input-type=module', '-e', code],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function once<T>(proc: ChildProcess): Promise<T> {
  return new Promise((done, fail) => {
    // The exit listener goes with the answer: a run per path and round would pile them up.
    const exited = (code: number | null) => fail(new Error(`child exited with ${code}`));
    proc.once('exit', exited);
    proc.once('message', (m) => {
      proc.off('exit', exited);
      done(m as T);
    });
  });
}

/** Where a side's busy CPU went, as shares of its profile's busy samples. */
interface CpuSplit {
  /** The side's own JavaScript: Candor's src/, or the ceiling's module. */
  own: number;
  /** Node's JavaScript (node:net, streams, events, timers, node:http2). */
  node: number;
  /** Native code called from JavaScript: the syscalls' bindings (writev, close, …), V8's builtins. */
  native: number;
  /** Collecting garbage, and V8's own work outside any function ((program)). */
  gc: number;
}

/** A CPU profile's busy samples (not idle) shared out by kind of code. */
function splitOf(profile: {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples?: number[];
}): CpuSplit {
  const kindOf = new Map<number, keyof CpuSplit | 'idle'>();
  for (const { id, callFrame: f } of profile.nodes) {
    kindOf.set(
      id,
      f.functionName === '(idle)'
        ? 'idle'
        : f.functionName === '(garbage collector)' || f.functionName === '(program)'
          ? 'gc'
          : f.url.startsWith('node:')
            ? 'node'
            : f.url === ''
              ? 'native'
              : 'own',
    );
  }
  const counts = { own: 0, node: 0, native: 0, gc: 0, idle: 0 };
  for (const id of profile.samples ?? []) counts[kindOf.get(id) ?? 'own']++;
  const busy = counts.own + counts.node + counts.native + counts.gc || 1;
  return {
    own: counts.own / busy,
    node: counts.node / busy,
    native: counts.native / busy,
    gc: counts.gc / busy,
  };
}

interface SideFigures {
  path: PathId;
  cpuUs: number;
  bytes: number;
  objects: number;
  top: { name: string; bytes: number }[];
  /** With --cpu-prof: the share of the busy samples each kind of code took (see splitOf). */
  split?: CpuSplit;
  /** The canary side: where its controller had got to when the path was measured (it judged each step passed). */
  canary?: { phase: string; step: number; steps: number };
}

/**
 * The canary side's route: the same origin behind both sides; nineteen steps of a second, each
 * judged on its window (at least 50 requests a side: every window at this rate), so that the
 * controller takes, merges and tests windows all through the measure; a step that fails pauses.
 */
const CANARY_ROUTE = `    canary:
      upstream: origin-next
      steps: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95]
      step_interval: 1s
      min_requests: 50
      max_duration: 1h
      on_failure: pause
      on_success: hold
`;

/** The header rules, CORS and compression of both features routes. */
const EDITS = `    response_headers:
      set: { Strict-Transport-Security: "max-age=63072000", X-Frame-Options: DENY }
    request_headers:
      set: { X-Env: bench }
    cors:
      origins: [https://app.example]
    compression: {}
`;

const ROUTES: Readonly<Record<RouteKind, string>> = {
  plain: '    upstream: origin\n',
  split: '    split: [{ upstream: origin-next, weight: 50 }, { upstream: origin, weight: 50 }]\n',
  canary: `    upstream: origin\n${CANARY_ROUTE}`,
  // Every feature on the request path a route turns on by config alone (the top comment says how each is met).
  features: `    split: [{ upstream: origin-next, weight: 50 }, { upstream: origin, weight: 50 }]
    allow: [127.0.0.0/8]
    auth:
      basic: { users_file: USERS_FILE, realm: bench }
${EDITS}    cache: {}
`,
  // The features route before issue 55's item 6: what a plain GET met of header rules, CORS and compression.
  'features-light': `    upstream: origin\n${EDITS}`,
  plugin: '    upstream: origin\n    plugins: [noop]\n',
  // The plain route; the config's other route (OTHER_ROUTE) has every feature and a plugin.
  beside: '    upstream: origin\n',
  allow: '    upstream: origin\n    allow: [127.0.0.0/8]\n',
  'basic-auth': '    upstream: origin\n    auth:\n      basic: { users_file: USERS_FILE, realm: bench }\n',
  'request-headers': '    upstream: origin\n    request_headers:\n      set: { X-Env: bench }\n',
  'response-headers':
    '    upstream: origin\n    response_headers:\n      set: { Strict-Transport-Security: "max-age=63072000", X-Frame-Options: DENY }\n',
  cors: '    upstream: origin\n    cors:\n      origins: [https://app.example]\n',
  compression: '    upstream: origin\n    compression: {}\n',
  // A bucket no request of the bench empties: what taking a token costs.
  'rate-limit': '    upstream: origin\n    rate_limit: { rate: 1000000, burst: 1000000 }\n',
  // The origin's answer to /small says nothing of caching: the route's lifetime keeps it, every request after the first a hit.
  'cache-hit': '    upstream: origin\n    cache:\n      lifetimes: { 200: 1h }\n',
  'cache-miss': '    upstream: origin\n    cache: {}\n',
};

/** The side "beside"'s other route: every feature on, and a plugin; the bench's requests (their Host an address) never take it. */
const OTHER_ROUTE = `  - name: other
    match: { host: other.example, path: / }
${ROUTES.features}    plugins: [noop]
`;

const AUTHORIZATION = `Basic ${Buffer.from('bench:secret').toString('base64')}`;

/** What the side's client asks: the path, and the fields a client of the route's feature sends besides its own. */
function requestOf(route: RouteKind): { target: string; fields: Record<string, string> } {
  // /private: its origin's answer no cache keeps (the features route's and cache-miss's miss every request).
  const target = route === 'features' || route === 'cache-miss' ? '/private' : '/small';
  if (route === 'features' || route === 'basic-auth')
    return { target, fields: { authorization: AUTHORIZATION } };
  if (route === 'cors') return { target, fields: { origin: 'https://app.example' } };
  // The origin's 100 bytes are under what compression takes on: the stage decides and passes the answer as it is.
  if (route === 'compression') return { target, fields: { 'accept-encoding': 'gzip, br' } };
  return { target, fields: {} };
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  id: number;
  children: SamplingNode[];
}

interface Latencies {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * What the slow requests at 200 connections waited behind: the client's latencies, the
 * worker's event-loop stalls (monitorEventLoopDelay at 1 ms) and its garbage collections.
 */
async function tailOf(run: () => Promise<Latencies>) {
  const gcs = new Map<string, { count: number; totalMs: number; maxMs: number }>();
  // node:perf_hooks' constants.NODE_PERFORMANCE_GC_*: MINOR 1 (a scavenge), MINOR_MARK_SWEEP 2,
  // MAJOR 4 (a full mark-compact), INCREMENTAL 8 (a step of incremental marking), WEAKCB 16.
  const kinds: Record<number, string> = {
    1: 'minor',
    2: 'minor',
    4: 'major',
    8: 'incremental',
    16: 'weakcb',
  };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[(e as unknown as { detail: { kind: number } }).detail.kind] ?? 'other';
      const g = gcs.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 };
      g.count++;
      g.totalMs += e.duration;
      g.maxMs = Math.max(g.maxMs, e.duration);
      gcs.set(kind, g);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const client = await run();
  delay.disable();
  observer.disconnect();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return {
    client,
    loopDelay: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    gc: Object.fromEntries(gcs),
  };
}

/**
 * What the worker holds (V8 heap used, plus memory outside it: buffers) per idle keep-alive
 * connection, then per request in flight (the origin holds its answer 3 s), after forced GCs.
 */
async function heldBytes(run: (kind: string) => Promise<void>): Promise<[number, number]> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const held = async () => {
    for (let i = 0; i < 3; i++) gc();
    await new Promise((done) => setTimeout(done, 100));
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const base = await held();
  await run('idle');
  const idle = await held();
  await run('hold');
  const inFlight = await held();
  await run('drop');
  return [idle - base, inFlight - idle];
}

/** The ceilings: the side "ceiling" of `--ceiling` (its name stands for both modules). */
const PEERS = join(dirname(fileURLToPath(import.meta.url)), 'peers');
const CEILING = join(PEERS, 'net-proxy.mjs');
const H2_CEILING = join(PEERS, 'h2-net-proxy.mjs');
/** The contract's floors: the side "floor" of `--floor` (its name stands for both modules). */
const FLOOR = join(PEERS, 'contract-floor.ts');
const H2_FLOOR = join(PEERS, 'h2-contract-floor.ts');

/** What a side's client talks to: Candor's gateway (one port for every path), or the ceilings standing in for it. */
interface Served {
  readonly listeners: readonly { port(): number }[];
  /** The HTTP/2 ceiling's port, when it is not the first listener's. */
  readonly h2Port?: number;
  close(): Promise<void>;
  canaries(): { phase: string; step: number; steps: unknown[] }[];
}

/** A free port on 127.0.0.1, for a ceiling that takes its port from the environment. */
function freePort(): Promise<number> {
  return new Promise<number>((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/**
 * The ceilings in this process, each listening on PORT when imported (synchronously, on an
 * address): bench/peers/net-proxy.mjs for the HTTP/1.1 paths, bench/peers/h2-net-proxy.mjs for
 * h2c (with `module` FLOOR: contract-floor.ts and h2-contract-floor.ts). They share one access
 * log, as they would share a process's.
 */
async function startCeilings(originPort: number, dir: string, module = CEILING): Promise<Served> {
  const [port, h2Port, deadPort] = [await freePort(), await freePort(), await freePort()];
  Object.assign(process.env, {
    ORIGIN_PORT: String(originPort),
    DEAD_PORT: String(deadPort),
    ACCESS_LOG: join(dir, 'access.log'),
  });
  process.env.PORT = String(port);
  await import(module);
  process.env.PORT = String(h2Port);
  await import(module === FLOOR ? H2_FLOOR : H2_CEILING);
  return { listeners: [{ port: () => port }], h2Port, close: async () => {}, canaries: () => [] };
}

/** Candor's gateway of the checkout at `srcDir`, with the side's route, as a worker runs it. */
async function startCandor(srcDir: string, o: Options, originPort: number, dir: string): Promise<Served> {
  const { parseConfig } = await import(join(srcDir, 'core/config/load.ts'));
  // The features route's Basic users: bench:secret, a SHA-256-crypt hash (openssl passwd -5).
  const users = join(dir, 'users');
  writeFileSync(users, 'bench:$5$costbench$1Yui4/jCqUc7tXJHY9xfdqgYx.RP4tg2A4E81WkfQb/\n');
  const { startGateway } = await import(join(srcDir, 'server/gateway/gateway.ts'));
  const config = parseConfig(
    `name: cost
listen:
  - address: 127.0.0.1:0
    http2: true
routes:
  - name: cost
    match: { path: / }
${ROUTES[o.route].replace('USERS_FILE', users)}${o.route === 'beside' ? OTHER_ROUTE.replace('USERS_FILE', users) : ''}${o.route === 'plugin' || o.route === 'beside' ? `plugins:\n  noop: { module: ${join(import.meta.dirname, 'noop-plugin.ts')} }\n` : ''}upstreams:
  origin:
    targets: [ { url: "http://127.0.0.1:${originPort}" } ]
    pool: { max_connections: 256, idle_timeout: 30s }
${
  o.route === 'split' || o.route === 'canary' || o.route === 'features' || o.route === 'beside'
    ? `  origin-next:
    targets: [ { url: "http://127.0.0.1:${originPort}" } ]
    pool: { max_connections: 256, idle_timeout: 30s }
`
    : ''
}log:
  level: info
  destination: ${join(dir, 'access.log')}
`,
    '<cost>',
    {},
  );
  return await startGateway(config);
}

/** One side: this process is the gateway of `srcDir` (this repository's or the reference's), or the ceiling. */
async function runSide(srcDir: string, o: Options): Promise<void> {
  const origin = child(ORIGIN);
  const originPort = await once<number>(origin);
  const dir = mkdtempSync(join(tmpdir(), 'candor-cost-'));
  // Its folder goes when the process does, whichever way it ends.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const gateway =
    srcDir === CEILING || srcDir === FLOOR
      ? await startCeilings(originPort, dir, srcDir)
      : await startCandor(srcDir, o, originPort, dir);
  const port = gateway.listeners[0].port();
  const h2Port = gateway.h2Port ?? port;
  const client = child(CLIENT);
  const session = new Session();
  session.connect();
  const run = async (path: PathId, n: number) => {
    client.send({ path, port: path === 'h2c' ? h2Port : port, n, request: requestOf(o.route) });
    return await once<Latencies>(client);
  };
  if (o.tail > 0) {
    await run('keepalive', 5000);
    process.stdout.write(`${JSON.stringify(await tailOf(() => run('keepalive200' as PathId, o.tail)))}\n`);
    client.kill();
    origin.kill();
    process.exit(0);
  }
  if (o.memory > 0) {
    await run('keepalive', 2000); // the pool, the buffers and the code, as a worker that served
    const held = await heldBytes(async (kind) => {
      await run(kind as PathId, o.memory);
    });
    client.kill();
    origin.kill();
    process.stdout.write(`${JSON.stringify(held.map((b) => b / o.memory))}\n`);
    process.exit(0);
  }
  const results: SideFigures[] = [];
  for (const path of o.paths) {
    // Warm-up (JIT, pool, buffers): V8 tiers a hot function up to TurboFan only after many calls,
    // and a worker compiles on its own thread (--no-concurrent-recompilation, worker-flags.ts):
    // after n / 4 requests the compiles of the hot path fell in the measured run, some 26 µs a
    // request of Candor's at n = 10,000 (12 of the floor's, 8 of the ceiling's), not its cost.
    await run(path, Math.max(20_000, o.n));
    const before = process.cpuUsage();
    await run(path, o.n);
    const used = process.cpuUsage(before);
    const cpuUs = (used.user + used.system) / o.n;
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: o.interval,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const sampledN = Math.min(o.n, 5000);
    await run(path, sampledN);
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as {
      profile: { head: SamplingNode; samples: { size: number; nodeId: number }[] };
    };
    // Each sample stands for 1 / (1 - e^(-size/interval)) allocations of its size (V8's scaling).
    let objects = 0;
    for (const s of profile.samples) objects += 1 / (1 - Math.exp(-s.size / o.interval));
    const bySelf = new Map<string, number>();
    let bytes = 0;
    const nameOf = (f: SamplingNode['callFrame']) =>
      `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    // A built-in (a join, a push, a regular expression's exec) is named with its caller.
    const walk = (node: SamplingNode, caller: string) => {
      bytes += node.selfSize;
      const own = nameOf(node.callFrame);
      if (node.selfSize > 0) {
        const name = node.callFrame.url === '' ? `${own} ← ${caller}` : own;
        bySelf.set(name, (bySelf.get(name) ?? 0) + node.selfSize);
      }
      for (const c of node.children) walk(c, own);
    };
    walk(profile.head, '');
    const top = [...bySelf]
      .sort((a, b) => b[1] - a[1])
      .slice(0, o.top)
      .map(([name, b]) => ({ name, bytes: Math.round(b / sampledN) }));
    let split: CpuSplit | undefined;
    if (o.cpuProf !== undefined) {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      await run(path, o.n);
      const { profile: cpu } = await session.post('Profiler.stop');
      mkdirSync(o.cpuProf, { recursive: true });
      writeFileSync(join(o.cpuProf, `${path}-${process.pid}.cpuprofile`), JSON.stringify(cpu));
      split = splitOf(cpu);
    }
    // Read here only: a reference checkout's gateway may have no canaries() (the side is this one's).
    const status = o.route === 'canary' ? gateway.canaries()[0] : undefined;
    const canary =
      status === undefined
        ? undefined
        : { phase: status.phase, step: status.step, steps: status.steps.length };
    results.push({ path, cpuUs, bytes: bytes / sampledN, objects: objects / sampledN, top, split, canary });
  }
  session.disconnect();
  client.kill();
  origin.kill();
  await gateway.close();
  process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exit(0);
}

/** A side in a process of its own, so that both sides start from the same cold state. */
async function measureSide(
  srcDir: string,
  o: Options,
  route: RouteKind = 'plain',
  flags: readonly string[] = [],
): Promise<SideFigures[]> {
  const args = [
    `--side=${srcDir}`,
    `--route=${route}`,
    `--paths=${o.paths.join(',')}`,
    `--n=${o.n}`,
    `--top=${o.top}`,
    `--interval=${o.interval}`,
    `--memory=${o.memory}`,
    `--tail=${o.tail}`,
  ];
  if (o.cpuProf !== undefined) args.push(`--cpu-prof=${o.cpuProf}`);
  // The V8 flags a worker runs with (src/server/cluster/worker-flags.ts): its young generation,
  // no pretenuring, its compiles, no memory reducer.
  const proc = fork(fileURLToPath(import.meta.url), args, {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, ...WORKER_V8_FLAGS, ...flags],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((done) => proc.on('exit', done));
  if (code !== 0) throw new Error(`side ${srcDir} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '[]');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.side !== undefined) return runSide(o.side, o);
  const here = resolve(fileURLToPath(import.meta.url), '../../src');
  const sides: [string, string, RouteKind, string[]?][] = [['this', here, 'plain']];
  if (o.canary || o.each) sides.push(['split', here, 'split'], ['canary', here, 'canary']);
  if (o.plugin || o.each) sides.push(['plugin', here, 'plugin']);
  if (o.each) for (const feature of [...EACH, 'beside'] as const) sides.push([feature, here, feature]);
  if (o.ceiling) sides.push(['ceiling', CEILING, 'plain']);
  if (o.floor) sides.push(['floor', FLOOR, 'plain']);
  if (o.ref !== undefined) sides.push(['ref', join(o.ref, 'src'), 'plain', o.refFlags]);
  if (o.features !== undefined) sides.push(['features', here, o.features]);
  if (o.features !== undefined && o.ref !== undefined)
    sides.push(['ref-features', join(o.ref, 'src'), o.features, o.refFlags]);
  if (o.tail > 0) {
    for (const [label, dir, route, flags] of sides)
      console.log(`${label}: ${JSON.stringify(await measureSide(dir, o, route, flags))}`);
    return;
  }
  if (o.memory > 0) {
    console.log(`| side | held per idle keep-alive connection | held per request in flight |\n|---|--:|--:|`);
    for (const [label, dir, route, flags] of sides) {
      const [idle, inFlight] = (await measureSide(dir, o, route, flags)) as unknown as [number, number];
      console.log(`| ${label} | ${(idle / 1024).toFixed(1)} KiB | ${(inFlight / 1024).toFixed(1)} KiB |`);
    }
    console.log(`\n(${o.memory} connections; V8 heap used + external memory, after forced GCs)`);
    return;
  }
  const got = new Map<string, SideFigures[][]>(sides.map(([label]) => [label, []]));
  for (let round = 0; round < o.rounds; round++) {
    // Alternated: the side that goes first changes each round.
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const [label, dir, route, flags] of order)
      got.get(label)?.push(await measureSide(dir, o, route, flags));
  }
  console.log(`${o.n} requests a path and round, ${o.rounds} rounds; medians (min–max)\n`);
  console.log('| side | path | CPU µs/request | bytes allocated/request | objects/request |');
  console.log('|---|---|--:|--:|--:|');
  for (const [label] of sides) {
    const rounds = got.get(label) ?? [];
    for (const path of o.paths) {
      const of = (k: 'cpuUs' | 'bytes' | 'objects') =>
        rounds.map((r) => r.find((x) => x.path === path)?.[k] ?? Number.NaN);
      const fmt = (xs: number[]) =>
        `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
      console.log(
        `| ${label} | ${path} | ${fmt(of('cpuUs'))} | ${fmt(of('bytes'))} | ${fmt(of('objects'))} |`,
      );
    }
  }
  if (o.canary) printCanary(o, got.get('this') ?? [], got.get('split') ?? [], got.get('canary') ?? []);
  if (o.each) printEach(o, sides, got);
  if (o.cpuProf !== undefined) printSplit(o, sides, got);
  if (o.top > 0) {
    for (const [label] of sides) {
      for (const figures of (got.get(label) ?? [])[0] ?? []) {
        console.log(`\n${label}, ${figures.path}: bytes allocated a request, by function`);
        for (const t of figures.top) console.log(`  ${String(t.bytes).padStart(6)}  ${t.name}`);
      }
    }
  }
}

/**
 * Where a request's CPU goes, side by side: the median CPU a request (measured with no profiler
 * attached) shared out as the side's profiles share out their busy samples (the medians of the
 * rounds' shares). The profiler slows JavaScript more than syscalls, so the JavaScript parts are
 * read a little high against the native part; the sides are read the same way.
 */
function printSplit(
  o: Options,
  sides: [string, string, RouteKind, string[]?][],
  got: Map<string, SideFigures[][]>,
): void {
  console.log(
    `\nWhere a request's CPU goes, µs (the median CPU a request, shared out by the profiles' busy samples):\n`,
  );
  console.log(
    "| side | path | CPU µs | own JavaScript | node's JavaScript | native (syscalls, builtins) | GC and V8 |",
  );
  console.log('|---|---|--:|--:|--:|--:|--:|');
  for (const [label] of sides) {
    const rounds = got.get(label) ?? [];
    for (const path of o.paths) {
      const figures = rounds.map((r) => r.find((x) => x.path === path)).filter((f) => f?.split !== undefined);
      if (figures.length === 0) continue;
      const cpu = median(figures.map((f) => f?.cpuUs ?? Number.NaN));
      const part = (k: keyof CpuSplit) => (cpu * median(figures.map((f) => f?.split?.[k] ?? 0))).toFixed(1);
      console.log(
        `| ${label} | ${path} | ${cpu.toFixed(1)} | ${part('own')} | ${part('node')} | ${part('native')} | ${part('gc')} |`,
      );
    }
  }
}

/**
 * Each side of `--each` against "this" (the plain route), path by path: the medians of the rounds
 * and their differences. "beside" is the plain route in a config whose other route has every
 * feature: what the features cost a route that does not turn them on (nothing, within an A/A run's
 * spread, when they cost it nothing).
 */
function printEach(
  o: Options,
  sides: [string, string, RouteKind, string[]?][],
  got: Map<string, SideFigures[][]>,
): void {
  const of = (label: string, path: PathId, k: 'cpuUs' | 'bytes' | 'objects') =>
    median((got.get(label) ?? []).map((r) => r.find((x) => x.path === path)?.[k] ?? Number.NaN));
  const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
  console.log(
    `\nEach feature on the plain route, against the plain route alone (medians of ${o.rounds} rounds, alternated):\n`,
  );
  console.log('| side | path | CPU µs | − plain: CPU µs | bytes | objects |');
  console.log('|---|---|--:|--:|--:|--:|');
  for (const [label] of sides) {
    if (label === 'this') continue;
    for (const path of o.paths) {
      const more = (k: 'cpuUs' | 'bytes' | 'objects', digits: number) =>
        signed(of(label, path, k) - of('this', path, k), digits);
      console.log(
        `| ${label} | ${path} | ${of(label, path, 'cpuUs').toFixed(1)} | ${more('cpuUs', 1)} | ${more('bytes', 0)} | ${more('objects', 1)} |`,
      );
    }
  }
}

/**
 * The canary side against "this" (the plain route) and against "split" (the same two upstreams
 * split by weight, no canary: what the controller adds, its counts and its judging, beyond the
 * split itself), path by path: medians, their ratios and the differences.
 */
function printCanary(
  o: Options,
  plain: SideFigures[][],
  split: SideFigures[][],
  canary: SideFigures[][],
): void {
  const of = (rounds: SideFigures[][], path: PathId, k: 'cpuUs' | 'bytes' | 'objects') =>
    median(rounds.map((r) => r.find((x) => x.path === path)?.[k] ?? Number.NaN));
  const signed = (x: number, digits: number) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
  console.log(
    `\nA route with a canary against the same route without, CPU µs a request (medians of ${o.rounds} rounds, alternated):\n`,
  );
  console.log(
    '| path | plain route | split, no canary | with a canary | canary ÷ plain | canary ÷ split | canary − split: µs | bytes | objects |',
  );
  console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const path of o.paths) {
    const [a, s, c] = [of(plain, path, 'cpuUs'), of(split, path, 'cpuUs'), of(canary, path, 'cpuUs')];
    const more = (k: 'bytes' | 'objects', digits: number) =>
      signed(of(canary, path, k) - of(split, path, k), digits);
    console.log(
      `| ${path} | ${a.toFixed(1)} | ${s.toFixed(1)} | ${c.toFixed(1)} | ${(c / a).toFixed(3)} | ${(c / s).toFixed(3)} | ${signed(c - s, 1)} | ${more('bytes', 0)} | ${more('objects', 2)} |`,
    );
  }
  // That the controller judged all along: each step it reached is a window judged and passed.
  const last = canary.map((r) => r.at(-1)?.canary).filter((c) => c !== undefined);
  const reached = last.map((c) => `step ${c.step} of ${c.steps} (${c.phase})`).join(', ');
  console.log(`\nThe canary side's controller, at the end of each round: ${reached || 'not seen'}.`);
}

await main();

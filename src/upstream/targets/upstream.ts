import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { headClock } from '../../core/config/normalize-route-timeouts.ts';
import type { UpstreamConfig } from '../../core/config/types.ts';
import { Count } from '../../core/limits/count.ts';
import type { Circuit } from '../../core/retry/circuit.ts';
import { crlsIn } from '../../core/tls/crl-list.ts';
import { RetryBudget } from '../breakers/retry-budget.ts';
import { upstreamCircuit } from '../breakers/upstream-circuit.ts';
import { type Connector, createConnector } from '../connections/connector.ts';
import type { ConnectionTimeouts } from '../connections/exchange-contract.ts';
import { H2Pool } from '../connections/h2/h2-pool.ts';
import { ConnectionPool } from '../connections/http1/pool.ts';
import type { PoolOptions, TargetPool } from '../connections/target-pool.ts';
import { type Balancer, createBalancer, TargetState } from './balancer.ts';
import { HoldQueue } from './hold-queue.ts';
import { Panic } from './panic.ts';

/** Largest response header section accepted from an upstream before http_response_header_section_size. */
export const UPSTREAM_MAX_HEADER_SIZE = 32 * 1024;

export type Target = TargetState & { readonly pool: TargetPool };

/**
 * A request now to `target` would wait for a connection of its pool (TargetPool.full): counted
 * by the requests holding one, not its tunnels, which hold the target (least_conn weighs them)
 * but, after their 101, no connection of the pool.
 */
export function poolFull(target: Target): boolean {
  return target.pool.full(target.active.count - target.tunnels.count);
}

/** An upstream at run time: its targets with their pools and states, its balancer, its circuit. */
export interface Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  /**
   * This snapshot's clocks of one exchange (head, read, send), as its pools' connections run them.
   * A request in flight finishes on the snapshot it began with: one that a reload's new clocks
   * meet on a connection opened after it (it waited in the pool's queue, or its retry opened one)
   * is given these, its own, not the pool's new ones.
   */
  readonly clocks: ConnectionTimeouts;
  readonly targets: readonly Target[];
  readonly balancer: Balancer<Target>;
  /** The upstream-wide circuit breaker (each target's own circuit is its ejection state). */
  readonly circuit: Circuit;
  /** Whether too few targets pass their health checks for the checks to be believed (see panic.ts). */
  readonly panic: Panic;
  /** Opens a classified connection to a target (the pools use it; so do upgrades, which leave the pools). */
  readonly connect: UpstreamConnector;
  /** Requests in flight to this upstream, first attempts and retries alike (the retry budget's base). */
  readonly inFlight: Count;
  /** Attempts dispatched that wait for a connection (bounded by pool.max_pending). */
  readonly pending: Count;
  /** Retries in flight and retry tokens (see retry-budget.ts). */
  readonly retryBudget: RetryBudget;
  /** Requests waiting for a target to come back (`hold`; empty without it); its owner is the upstream of now. */
  readonly hold: HoldQueue<Upstream>;
  /**
   * Since when (performance.now()) its DNS discovery's first question is out with no answer
   * yet; undefined once one came (or without discovery). Kept across the rebuilds each report makes.
   */
  readonly askingSince: number | undefined;
  /**
   * Targets that left the config (a DNS answer that no longer names them) while ejected, by
   * origin, until their ejection would have ended: one named again before then resumes it
   * (outlier.ts, resumeEjections, which takes its entry). Kept across rebuilds; at most the targets that left while ejected, each dropped once its
   * ejection ends (see buildTargets).
   */
  readonly departed: Map<string, Departed>;
  close(): Promise<void>;
}

/** An HTTP/1.1 connection closed for bytes past a complete response (or sent while none was asked for). */
export interface StrayBytes {
  readonly upstream: string;
  /** The target's host[:port]. */
  readonly target: string;
  readonly bytes: number;
}

/** A target found closing idle HTTP/1.1 connections after about `idleMs`, unsaid: they are now kept `limitMs` at most. */
export interface IdleCloseLearned {
  readonly upstream: string;
  /** The target's host[:port]. */
  readonly target: string;
  readonly idleMs: number;
  readonly limitMs: number;
}

/** What an upstream's connections tell the gateway's log (runtime.ts writes the lines). */
export interface UpstreamNews {
  strayBytes(event: StrayBytes): void;
  idleCloseLearned(event: IdleCloseLearned): void;
}

/**
 * Builds an upstream from its config. With `previous` (a reload kept the upstream's name),
 * every target still named — matched by its origin, scheme://host:port, so "http://a" and
 * "http://a:80" are one target — keeps its state object: pool and connections, health-check
 * verdict, ejection, admin state (unless the upstream's protocol changed). The upstream keeps its circuit, retry budget, in-flight
 * and pending counts, held requests and panic state. Pools of targets no longer named are retired (see
 * ConnectionPool.retire): requests of the older snapshot finish on them. `news` hears of an
 * HTTP/1.1 connection closed for bytes its target sent past a complete response, and of a
 * target found closing idle connections sooner than it said.
 */
export function createUpstream(
  config: UpstreamConfig,
  previous?: Upstream,
  news?: UpstreamNews,
  /** Made beforehand (connectorOf), so that its files are read before any upstream changes. */
  connect: UpstreamConnector = connectorOf(config),
): Upstream {
  const poolOptions = poolOptionsOf(config, news);
  const departed = previous?.departed ?? new Map<string, Departed>();
  const targets = buildTargets(config, previous, connect, poolOptions, departed);
  const inFlight = previous?.inFlight ?? new Count();
  const panic = previous?.panic ?? new Panic(config.panicThreshold);
  panic.threshold = config.panicThreshold;
  // The circuit judged the servers it saw fail: a reload that replaces every target (the fix
  // deployed to new instances) starts a closed one, not 503s for the rest of `open_time`.
  // Not a closure over `previous`: it would share this function's scope with close() below, and
  // each upstream would hold the one it replaced, every reload's kept for good.
  const sameServers = previous !== undefined && sharesATarget(targets, previous.targets);
  const circuit = upstreamCircuit(sameServers ? previous.circuit : undefined, config.circuitBreaker);
  const retryBudget = previous?.retryBudget ?? new RetryBudget(config.retries, inFlight);
  retryBudget.reconfigure(config.retries);
  const upstream: Upstream = {
    name: config.name,
    config,
    clocks: poolOptions.timeouts,
    targets,
    balancer: createBalancer(config.balancer, targets, {
      slowStart: config.slowStart,
      halfOpenProbes: config.circuitBreaker.halfOpenRequests,
      panic,
    }),
    circuit,
    panic,
    connect,
    inFlight,
    pending: previous?.pending ?? new Count(),
    retryBudget,
    hold: previous?.hold ?? new HoldQueue<Upstream>(),
    askingSince:
      config.discovery !== undefined && targets.length === 0 && config.discoveryFailure == null
        ? (previous?.askingSince ?? performance.now())
        : undefined,
    departed,
    async close() {
      await Promise.all(targets.map((t) => t.pool.close()));
    },
  };
  upstream.hold.owner = upstream;
  return upstream;
}

/** Whether the two lists have a target (a state object) in common. */
function sharesATarget(targets: readonly TargetState[], others: readonly TargetState[]): boolean {
  for (const target of targets) if (others.includes(target)) return true;
  return false;
}

/**
 * A connector, with a digest of the TLS files it was made of (`tls.ca`, `crl`, `cert`, `key`, as read):
 * a reload compares it as it compares their paths. A file replaced under its path (a renewed
 * client certificate, a CA no longer trusted) changes what an open connection carries as much.
 */
export type UpstreamConnector = Connector & { readonly tlsFiles: string };

/**
 * The connector of the upstream's targets: its connect timeout, its TLS (CA, client certificate,
 * ALPN). It reads their files, so it can throw (a file gone since the config was checked).
 */
export function connectorOf(config: UpstreamConfig): UpstreamConnector {
  const ca = config.tls.ca === undefined ? undefined : readFileSync(config.tls.ca);
  // Read at each (re)build too: a list published anew is taken by a reload.
  const crl = config.tls.crl === undefined ? undefined : readFileSync(config.tls.crl);
  // Read at each (re)build, as the CA is: a reload picks up a renewed client certificate.
  const cert = config.tls.cert === undefined ? undefined : readFileSync(config.tls.cert);
  const key = config.tls.key === undefined ? undefined : readFileSync(config.tls.key);
  const connector = createConnector({
    timeout: config.timeouts.connect,
    // A configured CA is trusted in addition to the system's roots, not instead of them.
    ca: ca === undefined ? undefined : [...rootCertificates, ca.toString()].join('\n'),
    // Each list its own string: node:tls reads one a string (crl-list.ts).
    crl: crl === undefined ? undefined : crlsIn(crl.toString('latin1')),
    servername: config.tls.servername,
    rejectUnauthorized: !config.tls.insecureSkipVerify,
    alpn: config.protocol === 'h2' ? 'h2' : 'http/1.1',
    cert,
    key,
    // h2c's socket is node:http2's to read.
    directReads: config.protocol === 'http1',
  });
  return Object.assign(connector, { tlsFiles: filesDigest([ca, crl, cert, key]) });
}

/** One digest of the files (each one's length first, so that no two lists of files make one). */
function filesDigest(files: readonly (Buffer | undefined)[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file === undefined ? '-;' : `${file.length};`).update(file ?? '');
  return hash.digest('base64');
}

function poolOptionsOf(config: UpstreamConfig, news: UpstreamNews | undefined): PoolOptions {
  const upstream = config.name;
  return {
    maxConnections: config.pool.maxConnections,
    maxStreams: config.pool.maxStreams,
    idleTimeout: config.pool.idleTimeout,
    timeouts: {
      // Each attempt's wait for the head is the per-try timeout (the response timeout unless retries set one).
      ...headClock(config.retries.perTryTimeout, config.timeouts.response),
      read: config.timeouts.read,
      send: config.timeouts.send,
    },
    maxHeaderSize: UPSTREAM_MAX_HEADER_SIZE,
    strayBytes: news && ((target, bytes) => news.strayBytes({ upstream, target, bytes })),
    idleCloseLearned:
      news && ((target, idleMs, limitMs) => news.idleCloseLearned({ upstream, target, idleMs, limitMs })),
  };
}

/** What outlier detection had of a target that left while ejected (Upstream.departed). */
export interface Departed {
  readonly ejectedUntil: number;
  readonly ejections: number;
}

/**
 * The targets the config names: each one the previous upstream had (same origin, same protocol)
 * kept with its pool reconfigured, a new one with a new pool; the pools of the others retired.
 * The others that go while ejected are remembered in `departed` until their ejection ends.
 */
function buildTargets(
  config: UpstreamConfig,
  previous: Upstream | undefined,
  connect: UpstreamConnector,
  poolOptions: PoolOptions,
  departed: Map<string, Departed>,
): Target[] {
  // Open connections carry their timeouts and TLS session: when those change (the TLS files'
  // content too, replaced under the same paths), they are not reused.
  const fresh =
    previous !== undefined &&
    (connectionSettingsChanged(previous.config, config) || previous.connect.tlsFiles !== connect.tlsFiles);
  // A change of protocol starts every target afresh: its pool speaks the old protocol, and its
  // health verdicts and ejections were earned in it (an h2c-only target ejected for failing
  // HTTP/1.1 must not stay out once the config says h2c).
  const sameProtocol = previous?.config.protocol === config.protocol;
  // One server written twice (a check's warning) keeps its first entry's state: the later one,
  // new at each rebuild, is retired with the targets gone.
  const kept = new Map<string, Target>();
  for (const old of previous?.targets ?? [])
    if (sameProtocol && !kept.has(old.config.origin)) kept.set(old.config.origin, old);
    else old.pool.retire();
  // A target new beside kept ones (a reload's, a discovery answer's: a new instance, its caches
  // cold) comes into rotation now, through slow start as one coming back does; the targets of a
  // new upstream (or of one started afresh) are all new alike and take their shares at once.
  const joining = config.targets.some((target) => kept.has(target.origin))
    ? performance.now()
    : Number.NEGATIVE_INFINITY;
  const now = performance.now();
  // A DNS answer that names a random subset of the records (round-robin DNS, a cloud load
  // balancer's) drops an ejected target and gives it back: new, it came back in rotation at
  // once, its ejection forgotten, and took requests it was ejected for failing. Remembered here
  // until its ejection ends; the runtime resumes it (outlier.ts, resumeEjections). A changed
  // protocol forgets them, as it forgets the kept targets' ejections.
  if (!sameProtocol) departed.clear();
  for (const [origin, gone] of departed)
    if (gone.ejectedUntil <= now || kept.has(origin)) departed.delete(origin);
  const targets: Target[] = config.targets.map((target) => {
    const old = kept.get(target.origin);
    if (old === undefined)
      return Object.assign(new TargetState(target), {
        inRotationSince: joining,
        pool:
          config.protocol === 'http1'
            ? new ConnectionPool(target, connect, poolOptions)
            : new H2Pool(target, connect, poolOptions),
      });
    kept.delete(target.origin);
    old.config = target;
    old.pool.reconfigure(connect, poolOptions, fresh);
    return old;
  });
  for (const gone of kept.values()) {
    gone.pool.retire();
    if (sameProtocol && gone.isEjected(now))
      departed.set(gone.config.origin, { ejectedUntil: gone.ejectedUntil, ejections: gone.ejections });
  }
  return targets;
}

/** Settings an open connection already carries: its wait for a head, its read, send and idle timers, its TLS. */
function connectionSettingsChanged(before: UpstreamConfig, after: UpstreamConfig): boolean {
  return (
    before.timeouts.response !== after.timeouts.response ||
    before.timeouts.read !== after.timeouts.read ||
    before.timeouts.send !== after.timeouts.send ||
    before.retries.perTryTimeout !== after.retries.perTryTimeout ||
    before.pool.idleTimeout !== after.pool.idleTimeout ||
    before.pool.maxStreams !== after.pool.maxStreams ||
    JSON.stringify(before.tls) !== JSON.stringify(after.tls)
  );
}

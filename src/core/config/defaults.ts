/**
 * Every default of the config, in runtime units (milliseconds, bytes), and nowhere else.
 *
 * The loader fills in what the file leaves out from here; nothing downstream invents a
 * default of its own, so what the docs say, what `candor check` prints and what the
 * gateway does cannot disagree.
 */

import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CANARY_METRICS } from './canary-metrics.ts';
import { GiB, KiB, MiB } from './units.ts';

export const DEFAULTS = {
  name: 'candor',
  // TLS 1.2 is still what many clients and load balancers speak; 1.0 and 1.1 are Node's refusal already.
  // RFC 9110 §15.5.20: a request for a host its connection's certificate was not chosen for is misdirected (421).
  listener: {
    maxConnections: 10_000,
    tlsMinVersion: 'TLSv1.2',
    allowMisdirected: false,
    // The safe side: a listener that asks for certificates lets in no connection without a good one.
    clientCertificateMode: 'require',
    // Only the listener's own handshake: a forwarded certificate is believed only where it is said.
    clientCertificatesFrom: 'handshake',
  },
  perClientKey: 'address',
  acme: {
    // Let's Encrypt's production directory, as Caddy and Traefik default to.
    directory: 'https://acme-v02.api.letsencrypt.org/directory',
    challenges: ['http-01', 'tls-alpn-01'] as const,
    // With acme.dns01 and no challenges of its own: every name proven in the zone's DNS, which
    // needs no port of the gateway reachable from the CA (the reason to set up DNS-01 at all).
    dns01Challenges: ['dns-01'] as const,
    dns01: {
      tsigAlgorithm: 'hmac-sha256',
      // A TXT record is seen at every authoritative server within seconds where the primary
      // notifies them (RFC 1996); two minutes leaves room for a secondary that polls.
      propagationTimeout: 120_000,
    },
    // Where a user's programs keep their data (XDG), as Caddy keeps its certificates: not beside
    // the config, which is often read-only (/etc).
    storage: (): string =>
      join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'candor', 'acme'),
  },
  // What a restart must not lose (a canary's verdict): systemd's StateDirectory= when the unit
  // has one, else XDG's state folder, the one meant for state "that should persist between
  // (application) restarts".
  stateDir: (): string =>
    process.env.STATE_DIRECTORY?.split(':')[0] ||
    join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'candor'),
  route: {
    path: '/',
    stripPrefix: false,
    // An upstream that decodes %2F sees other segments than the router matched: a route opts in.
    allowEncodedSlashes: false,
    // nginx's proxy_request_buffering: a small body is read whole before a connection is taken.
    limits: { body: 10 * MiB, buffer: 1 * MiB },
    requestBuffering: true,
    retryIdempotencyKey: false,
    // zstd is left out while node:zlib marks it experimental (Node 24): a route may list it.
    compression: {
      encodings: ['br', 'gzip'] as const,
      minSize: 1024,
      types: [
        'text/html',
        'text/plain',
        'text/css',
        'text/csv',
        'text/xml',
        'text/javascript',
        'text/markdown',
        'text/event-stream',
        'application/javascript',
        'application/json',
        'application/problem+json',
        'application/ld+json',
        'application/manifest+json',
        'application/xml',
        'application/rss+xml',
        'application/atom+xml',
        'application/wasm',
        'application/x-ndjson',
        'image/svg+xml',
      ],
      // BREACH: a compressed page that reflects a client's input beside a secret (a CSRF token,
      // a session's data) tells, by its length, how much of the input matched the secret. HTML
      // is what a browser fetches with its cookies at another site's bidding; an API's JSON
      // behind Authorization is not (a page cannot make a browser send that header elsewhere).
      skipCredentialed: ['text/html'],
    },
    // 308 keeps the method and body (a POST stays a POST), unlike 301's historic rewrite to GET.
    redirectStatus: 308,
    // routes[].static.index: the file a directory's path is answered with, as nginx's `index`.
    staticIndex: 'index.html',
  },
  // A response cache per route that asks for one (routes[].cache): bounded in memory, LRU.
  // A canary walks 5 → 25 → 50 % a minute a step, judged on at least 100 requests a side a step;
  // 99 % sure before calling it worse (shared among the metrics compared, so one verdict of
  // eight is not eight chances of a false rollback), and slower only by more than 20 ms at the
  // median: a rank test on thousands of samples finds a millisecond no user feels. A step is
  // looked at four times (check_interval a quarter of step_interval): a bad canary goes at the
  // first look that shows it, each look spending a quarter of the step's confidence.
  canary: {
    steps: [5, 25, 50] as readonly number[],
    stepInterval: 60_000,
    looksPerStep: 4,
    minRequests: 100,
    maxDuration: 3_600_000,
    compare: CANARY_METRICS,
    confidence: 0.99,
    latencyMargin: 20,
    // The tail: an answer slower than twice the baseline's p99 (and 20 ms past it) is the canary's
    // tail, unless the baseline has as many there (judge.ts, tailVerdict).
    latencyP99Factor: 2,
    // A baseline failing one request in ten is down, or nearly: a canary "no worse" than it is not
    // shown healthy, and a step that passes so pauses it (inconclusive) rather than move it on.
    baselineMaxFailedPercent: 10,
    onFailure: 'rollback',
    onSuccess: 'promote',
  },
  // A stored answer may stand in for a failed upstream for 5 minutes past its freshness unless
  // it says otherwise (its own stale-if-error, up to this); concurrent misses wait 5 s for the first.
  cache: {
    maxSize: 64 * MiB,
    maxEntry: 1 * MiB,
    staleIfError: 300_000,
    lockTimeout: 5_000,
    maxDisk: 1024 * MiB,
  },
  maintenance: { retryAfter: 300, message: 'This service is down for maintenance.' },
  rateLimit: { key: 'client', ipv6Prefix: 64 },
  cors: { methods: ['GET', 'HEAD', 'POST'], credentials: false },
  auth: {
    realm: 'restricted',
    forwardAuthorization: false,
    identityClaim: 'sub',
    clientCertificateIdentity: 'cn',
    jwtAlgorithms: ['RS256', 'ES256'],
    clockSkew: '30s',
    requireExp: true,
    // A plain JWT (or none said) and RFC 9068's access token: what issuers mark access tokens with.
    jwtTypes: ['JWT', 'at+jwt'],
    jwksMinRefresh: '30s',
    // What RFC 8705 §3 asks of a resource server: a bound token only with its certificate, others as before.
    boundTokens: 'check',
    forwardTimeout: '5s',
    forwardSendHeaders: ['Authorization', 'Cookie'],
    forwardPath: '/',
    // Short, as Traefik's and oauth2-proxy's caches are: a revoked session passes for at most this long.
    forwardCache: { ttl: '10s', maxEntries: 10_000 },
    // oauth2-proxy's paths, so a move from it keeps the provider's registered redirect URI.
    oidc: {
      scopes: ['openid'],
      redirectPath: '/oauth2/callback',
      logoutPath: '/oauth2/sign_out',
      // Where the user lands after the sign-out: the site's front page, on the request's host.
      postLogoutRedirect: '/',
      cookieName: '_candor_session',
      timeout: '5s',
      // Longer than the rate limit store's 50 ms: a session not read is a 503, not a request let through.
      storeTimeout: '1s',
    },
  },
  target: { weight: 1, priority: 0 },
  upstream: {
    balancer: 'round_robin',
    protocol: 'http1',
    // 100 streams a session is the floor RFC 9113 §6.5.2 recommends a server allow (nginx's default).
    pool: {
      maxConnections: 128,
      idleTimeout: 30_000,
      maxPending: 1024,
      queueTimeout: 2_000,
      maxStreams: 100,
    },
    hashKey: 'client',
    // A tunnel silent for an hour both ways is abandoned (WebSocket clients ping far more often);
    // one a side has half-closed, after 30 s (HAProxy's client-fin / server-fin: WebSocket has no
    // use for a half-close, the other side is expected to close soon).
    // The total deadline bounds the wait for the answer; a body that keeps moving is bounded by `read`
    // between reads (nginx has no overall cap): a long download or long poll is not cut mid-body.
    timeouts: {
      connect: 2_000,
      response: 30_000,
      read: 30_000,
      // nginx's proxy_send_timeout is 60 s; as `read`, 30 s: an upstream taking none of a body for that long is stuck.
      send: 30_000,
      total: 60_000,
      totalIncludesBody: false,
      tunnelIdle: 3_600_000,
      tunnelHalfClosed: 30_000,
    },
    tls: { insecureSkipVerify: false },
    slowStart: 0,
    // Envoy's panic threshold: below half the targets passing their checks, route to all.
    panicThreshold: 50,
    // Envoy's outlier detection defaults: 5 in a row, 30 s growing per ejection, at most 10% of the pool.
    outlierDetection: {
      consecutiveFailures: 5,
      baseEjectionTime: 30_000,
      maxEjectionTime: 300_000,
      maxEjectedPercent: 10,
    },
    circuitBreaker: { consecutiveFailures: 20, openTime: 5_000, halfOpenRequests: 1 },
    // Used when `hold` is written: long enough for a process to restart (Caddy's lb_try_duration
    // is off by default, and commonly set to a few seconds), short of a client's own patience;
    // a thousand requests and 8 MiB of their bodies at most, per upstream.
    hold: { timeout: 5_000, maxRequests: 1_000, maxBody: 8 * MiB },
    // Envoy's retry budget (20%, at least 3 concurrent) and backoff (25 ms base, 250 ms max);
    // Finagle's floor of 10 retries a second, so a gateway that has seen few requests still retries.
    retries: {
      attempts: 2,
      on: [
        'dns_error',
        'dns_timeout',
        'connection_refused',
        'destination_ip_unroutable',
        'connection_timeout',
        // A failed TLS handshake sent nothing (DESIGN.md: it may go to another target): one
        // target with an expired or wrong certificate among good ones is tried past, as
        // nginx's `proxy_next_upstream error` and HAProxy's `conn-failure` do, until it is ejected.
        'tls_protocol_error',
        'tls_certificate_error',
        'tls_alert_received',
        'connection_terminated',
        'http_response_timeout',
      ],
      backoffBase: 25,
      backoffMax: 250,
      budgetRatio: 0.2,
      budgetMinConcurrent: 3,
      budgetMinPerSecond: 10,
      replayBody: 64 * KiB,
    },
  },
  healthCheck: {
    method: 'GET',
    path: '/',
    expectStatus: [[200, 399]],
    interval: 5_000,
    timeout: 2_000,
    rise: 2,
    fall: 3,
  },
  errors: { exposeUpstreamAddress: false, detail: 'full' as const },
  // Normalised, as an upstream that resolves dot-segments reads the path (src/core/uri-path.ts).
  // Slashes merged, as nginx and Apache do by default (Envoy does not): behind either, `//admin`
  // unmerged would pass a route's policy at /admin and still be served as /admin; merged, the
  // upstream receives exactly the path that was matched, whether it merges or not. An upstream
  // to which an empty segment means something (`/files//x`) turns it off.
  paths: { normalize: true, mergeSlashes: true },
  trustForwardedFrom: [],
  limits: {
    headerSize: 32 * KiB,
    uriLength: 8 * KiB,
    headerTimeout: 10_000,
    bodyIdleTimeout: 30_000,
    // Apache's mod_reqtimeout (body=10,MinRate=...): 10 s, then one more second per KiB received.
    bodyReadTimeout: 10_000,
    bodyMinRate: 1 * KiB,
    // nginx's send_timeout is 60 s; half of it keeps a reader that takes nothing from holding
    // an upstream connection for a minute.
    sendTimeout: 30_000,
    keepAliveTimeout: 5_000,
    // nginx's proxy_max_temp_file_size is 1 GiB a response; the total is Candor's own bound (nginx
    // has none): a few thousand slow readers of large answers, not a full disk.
    spool: { maxResponse: 1 * GiB, maxTotal: 4 * GiB },
    // Some 180 slow readers holding a whole default buffer (1 MiB and the socket's read-ahead):
    // past it their rest goes to the spool, not to the worker's heap.
    bufferTotal: 256 * MiB,
    // The system's temporary folder: writable wherever the gateway runs, and shared with every
    // user of the machine (spool-dir.ts uses it only if it is the gateway's user's alone).
    spoolDir: (): string => join(tmpdir(), 'candor-spool'),
    http2: {
      // RFC 9113 §6.5.2 recommends no fewer than 100; nginx's http2_max_concurrent_streams is 128.
      maxConcurrentStreams: 100,
      // The HTTP/1.1 side's header_size.
      maxHeaderListSize: 32 * KiB,
      maxHeaderFields: 128,
      // The protocol's initial value: every client can live with it.
      headerTableSize: 4 * KiB,
      maxSessionMemory: 10 * MiB,
      // Four routes' worth of limits.buffer: a connection that reads keeps its streams moving
      // through far less; one that does not read holds this, not 100 streams × 1 MiB.
      connectionBuffer: 4 * MiB,
      maxInvalidFrames: 100,
      maxRejectedStreams: 100,
      // Long enough to see a storm, short enough to forget a burst.
      floodWindow: 10_000,
      // Browsers cancel streams when a page navigates away, a few dozen at most; an attack sends
      // thousands a second (nghttp2's own bound, 1,000 then 33 a second, comes much later).
      maxClientResets: 200,
      // Ten a second: keep-alive and BDP probes send far fewer.
      maxPings: 100,
      maxSettingsFrames: 100,
      // 10,000 a second on one connection: no browser or service needs more.
      maxRequests: 100_000,
      // As the HTTP/1.1 side's send_timeout.
      sendTimeout: 30_000,
      // Browsers keep an HTTP/2 connection a long time; nginx's keepalive_timeout is 75 s.
      idleTimeout: 75_000,
    },
  },
  // A plugin's hook runs on every request of its routes: a second is far past a check's time,
  // and short enough that a plugin stuck on its own dependency does not hold the client long.
  plugin: { timeout: 1_000, onError: 'fail' },
  log: { level: 'info', destination: 'stdout' },
  // No delay unless a load balancer needs time to see the gateway not ready; 30 s is
  // Kubernetes' default grace period, the longest a stop usually may take.
  drain: { delay: 0, timeout: 30_000 },
  // Loopback: the admin API changes what the gateway does; reaching it from elsewhere must be written down.
  admin: { listen: '127.0.0.1:9901' },
  tracing: { sampleRatio: 1 },
  // A rate-limit store that does not answer must not stop the traffic it only limits; 50 ms is
  // far above a Redis call on a LAN (well under a millisecond) and bounds what an outage adds.
  store: { onError: 'allow', timeout: 50, prefix: 'candor:' },
  // Kubernetes' CoreDNS answers with a TTL of 5 s; asking more often than each second is noise.
  discovery: { type: 'A', scheme: 'http', interval: 5_000, minTtl: 1_000, maxTtl: 60_000, maxTargets: 512 },
} as const;

/** Bounds on the downstream header section: below 1KiB ordinary browsers fail, above 1MiB it is an attack surface. */
export const HEADER_SIZE_RANGE = { min: 1 * KiB, max: 1 * MiB } as const;

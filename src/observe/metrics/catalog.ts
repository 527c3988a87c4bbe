/**
 * Every metric Candor exports, declared once (Envoy's stats table in spirit): the README's
 * "Metrics" section is held to this table by test/docs/readme-reference.test.ts, and
 * metrics.ts builds the registry from it, so a metric cannot exist without its row.
 *
 * Label values come only from the config (route, upstream and listener names, target
 * origins), from the taxonomy (failure types, retry-skip codes) and from small fixed
 * enums; never from what a client sends (paths, hosts, addresses). Status codes are the one
 * number: three digits, at most 900 values, in practice a handful.
 *
 * `aggregator` says how the cluster primary merges the workers' values (prom-client's
 * AggregatorRegistry): counts add up; a state each worker judges for itself (health, ejection,
 * a circuit) is averaged, so 1 means "every worker sees it so" and 0.5 "half of them do".
 */

/** OpenTelemetry's advice for HTTP durations (semantic conventions, http.server.request.duration). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** A connection is set up in well under a millisecond on a LAN and in tens over a WAN; 10 s is the default connect timeout's order. */
const CONNECT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type MetricType = 'counter' | 'gauge' | 'histogram';
type Aggregator = 'sum' | 'average' | 'max' | 'min';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly help: string;
  readonly aggregator: Aggregator;
  readonly buckets?: readonly number[];
}

export const METRICS = {
  answers: {
    name: 'candor_responses_total',
    type: 'counter',
    labels: ['route', 'code', 'origin', 'error_type'],
    help: 'Every answer, by who made it (origin: gateway, upstream, or client when it left before any answer) and the RFC 9209 error type (empty when the upstream answered whole).',
    aggregator: 'sum',
  },
  grpcAnswers: {
    name: 'candor_grpc_responses_total',
    type: 'counter',
    labels: ['route', 'grpc_status', 'origin'],
    help: "Answers to gRPC requests by the gRPC status the client read: the upstream's own grpc-status (origin upstream) or the gateway's Trailers-Only answer (origin gateway). A gRPC answer ended without a grpc-status is not counted.",
    aggregator: 'sum',
  },
  accessDecisions: {
    name: 'candor_access_decisions_total',
    type: 'counter',
    labels: ['route', 'outcome'],
    help: "Requests the route's access rules (IP lists, CORS, authentication) decided on, by outcome: allowed, denied (401 or 403), failed (the auth hop failed).",
    aggregator: 'sum',
  },
  accessRefusals: {
    name: 'candor_access_refusals_total',
    type: 'counter',
    labels: ['route', 'method', 'status'],
    help: "Requests a route's access rules refused with 401 (missing or bad credentials) or 403 (not allowed: an IP list, a client certificate, a preflight), by method: what the status page counts.",
    aggregator: 'sum',
  },
  attempts: {
    name: 'candor_upstream_attempts_total',
    type: 'counter',
    labels: ['upstream', 'target', 'outcome', 'reused_connection'],
    help: 'Attempts sent to each target, by outcome: response (a response head came; a body cut after it is counted by error_type in candor_responses_total and the duration histograms), or the failure type that ended the attempt before a head.',
    aggregator: 'sum',
  },
  retries: {
    name: 'candor_retries_total',
    type: 'counter',
    labels: ['upstream', 'reason', 'result'],
    help: 'Retries made, by the failure type that caused them (reason) and the outcome of the retry (result: response, or a failure type).',
    aggregator: 'sum',
  },
  retriesSkipped: {
    name: 'candor_retries_skipped_total',
    type: 'counter',
    labels: ['upstream', 'why'],
    help: "Failed attempts not retried, by the log's retry_skipped code.",
    aggregator: 'sum',
  },
  cacheLookups: {
    name: 'candor_cache_lookups_total',
    type: 'counter',
    labels: ['route', 'result'],
    help: "Requests on a route with a cache, by what its cache did (the Cache-Status they carried): hit, collapsed (waited for another request's fetch, then a hit), revalidated (a 304 confirmed the stored answer), stale, or forwarded for uri-miss, vary-miss, stale, request, method or bypass.",
    aggregator: 'sum',
  },
  stageHooks: {
    name: 'candor_stage_hook_calls_total',
    type: 'counter',
    labels: ['stage', 'hook', 'result'],
    help: "Calls of a route stage's hooks (a plugin's: plugin:NAME), by result: ok, threw, overran, or the failure type it refused with.",
    aggregator: 'sum',
  },
  stageHookTime: {
    name: 'candor_stage_hook_seconds_total',
    type: 'counter',
    labels: ['stage', 'hook'],
    help: "Time spent in a route stage's hooks (an asynchronous hook's until it settled), in seconds.",
    aggregator: 'sum',
  },
  pluginEvents: {
    name: 'candor_plugin_events_total',
    type: 'counter',
    labels: ['plugin', 'name', 'label'],
    help: "What a plugin counts itself (its context.metrics.count): by the plugin's name, the count's name and its label (empty when none).",
    aggregator: 'sum',
  },
  pluginUncaught: {
    name: 'candor_plugin_uncaught_errors_total',
    type: 'counter',
    labels: ['plugin'],
    help: "A plugin's errors that nothing caught (a timer it set that threw, a promise it left that rejected), logged and survived by the worker: by the plugin's name.",
    aggregator: 'sum',
  },
  cacheStale: {
    name: 'candor_cache_stale_total',
    type: 'counter',
    labels: ['route', 'cause'],
    help: "Stored answers given in place of a failed upstream (stale-if-error), by the failure's type (connection_refused, destination_unavailable…) or the upstream's own status (upstream_503).",
    aggregator: 'sum',
  },
  cacheDiskFailures: {
    name: 'candor_cache_disk_failures_total',
    type: 'counter',
    labels: ['route', 'kind'],
    help: "A route's cache folder failing it: write, an answer not stored there (a full disk, a folder turned read-only) but served and kept in memory; unread, a read of a stored file that was no answer (cut, changed, not a file), fetched anew; read, a read the process could not make (no file descriptor left: EMFILE, ENFILE), the file left as it is. The log says the first of each kind a minute.",
    aggregator: 'sum',
  },
  spooledAnswers: {
    name: 'candor_spooled_responses_total',
    type: 'counter',
    labels: ['route'],
    help: 'Responses that reached a slow client partly through a spool file (limits.spool), so their upstream connection went back to its pool before the client had taken them.',
    aggregator: 'sum',
  },
  spooledBytes: {
    name: 'candor_spooled_bytes_total',
    type: 'counter',
    labels: ['route'],
    help: 'Response bytes written to spool files for slow clients (limits.spool).',
    aggregator: 'sum',
  },
  ejections: {
    name: 'candor_target_ejections_total',
    type: 'counter',
    labels: ['upstream', 'target'],
    help: 'Times passive health (outlier detection) took a target out of rotation (a failed half-open probe keeps it out: the same ejection, not counted again).',
    aggregator: 'sum',
  },
  traceSpans: {
    name: 'candor_trace_spans_total',
    type: 'counter',
    labels: ['result'],
    help: 'Spans recorded for export (tracing), by how they ended: exported (a collector took them), failed (their export failed or ran out of time: lost), dropped (the export queue was full: lost).',
    aggregator: 'sum',
  },
  circuitOpens: {
    name: 'candor_circuit_opens_total',
    type: 'counter',
    labels: ['upstream'],
    help: "Times the upstream's circuit breaker opened: by failures in a row, or again by a failed half-open probe; counted by the worker that opened it (the others, told, count nothing).",
    aggregator: 'sum',
  },
  returns: {
    name: 'candor_target_returns_total',
    type: 'counter',
    labels: ['upstream', 'target', 'by'],
    help: 'Ejections that ended, each once whatever the number of workers, by what ended it: request (a request succeeded once the ejection ran out) or check (an active health check passed while requests waited for the upstream).',
    aggregator: 'sum',
  },
  healthChecks: {
    name: 'candor_health_checks_total',
    type: 'counter',
    labels: ['upstream', 'target', 'result', 'error_type'],
    help: 'Active health-check probes, by result (success, failure) and failure type (a taxonomy type, unexpected_status, or empty).',
    aggregator: 'sum',
  },
  healthTransitions: {
    name: 'candor_health_transitions_total',
    type: 'counter',
    labels: ['upstream', 'target', 'to'],
    help: 'Targets going out of (to="unhealthy") or back into (to="healthy") rotation by the active checks.',
    aggregator: 'sum',
  },
  configReloads: {
    name: 'candor_config_reloads_total',
    type: 'counter',
    labels: ['result'],
    help: 'Config reloads, each counted once whatever the number of workers, by result: success (it went live) or failure (the file was refused, or a worker did not confirm the swap).',
    aggregator: 'sum',
  },
  workerExits: {
    name: 'candor_worker_exits_total',
    type: 'counter',
    labels: ['exit'],
    help: 'Workers that died while the gateway ran (not in a drain), by exit: the signal that ended one (SIGKILL: the OOM killer, a kill -9) or its exit code; each is replaced, after a backoff in a crash loop. Counted by the primary.',
    aggregator: 'sum',
  },
  configInfo: {
    name: 'candor_config_info',
    type: 'gauge',
    labels: ['name', 'hash'],
    help: "The running config: the gateway's name and its hash (sha256: and the first 16 hex digits of the loaded config's SHA-256, as GET /status shows it); always 1.",
    aggregator: 'max',
  },
  configSourceRevision: {
    name: 'candor_config_source_revision',
    type: 'gauge',
    labels: ['key'],
    help: "A fleet gateway's config (docs/fleet.md): the etcd revision of the document it runs, under its key. Absent when the config is a file.",
    aggregator: 'max',
  },
  configSourceUnreachableSince: {
    name: 'candor_config_source_unreachable_since_seconds',
    type: 'gauge',
    labels: ['key'],
    help: 'A fleet gateway: since when (Unix time, seconds) etcd cannot be read, the gateway serving on its running revision; 0 while it can.',
    aggregator: 'max',
  },
  configSourceRefusedRevision: {
    name: 'candor_config_source_refused_revision',
    type: 'gauge',
    labels: ['key'],
    help: 'A fleet gateway: the last etcd revision it refused (it failed validation; the running config stayed); 0 when none.',
    aggregator: 'max',
  },
  targetHealthy: {
    name: 'candor_target_healthy',
    type: 'gauge',
    labels: ['upstream', 'target'],
    help: '1 when the target passes its active health checks (or has none), 0 when they took it out of rotation.',
    aggregator: 'average',
  },
  targetEjected: {
    name: 'candor_target_ejected',
    type: 'gauge',
    labels: ['upstream', 'target'],
    help: '1 while passive health (outlier detection) keeps the target ejected.',
    aggregator: 'average',
  },
  circuitState: {
    name: 'candor_circuit_state',
    type: 'gauge',
    labels: ['upstream', 'target', 'state'],
    help: "1 for the circuit's current state (closed, half_open, open): target=\"\" is the upstream's circuit breaker, a target's is its ejection state.",
    aggregator: 'average',
  },
  certificateExpiry: {
    name: 'candor_certificate_expiry_seconds',
    type: 'gauge',
    labels: ['name'],
    help: 'Seconds until the certificate the gateway ordered by ACME for this name ends (negative once it has: alert well before 0); 0 for a name of the config with no certificate served (never ordered yet, or every order failed). The soonest of what the workers serve.',
    aggregator: 'min',
  },
  acmeOrders: {
    name: 'candor_acme_orders_total',
    type: 'counter',
    labels: ['name', 'result'],
    help: "ACME orders (first orders and renewals) this gateway made, by result: ok (a certificate landed) or failed (the CA's problem is in candor_acme_order_failures, the log and /status). Both at 0 from the start for every name of the config.",
    aggregator: 'sum',
  },
  acmeOrderFailures: {
    name: 'candor_acme_order_failures',
    type: 'gauge',
    labels: ['name', 'error_type'],
    help: "While a name's last ACME order failed: how many failed in a row, error_type the last one's ACME problem type (urn:ietf:params:acme:error:…, candor:unreachable…, other). Gone once an order succeeds.",
    aggregator: 'max',
  },
  retryBudget: {
    name: 'candor_retry_budget_remaining',
    type: 'gauge',
    labels: ['upstream'],
    help: "Retries the upstream's retry budget would allow at once now.",
    aggregator: 'sum',
  },
  inFlight: {
    name: 'candor_upstream_requests_in_flight',
    type: 'gauge',
    labels: ['upstream'],
    help: 'Requests to the upstream in flight (first attempts and retries).',
    aggregator: 'sum',
  },
  pending: {
    name: 'candor_upstream_requests_pending',
    type: 'gauge',
    labels: ['upstream'],
    help: "Attempts waiting in the upstream's queue for a pooled connection.",
    aggregator: 'sum',
  },
  held: {
    name: 'candor_upstream_requests_held',
    type: 'gauge',
    labels: ['upstream'],
    help: 'Requests in line waiting for a target of the upstream to come back (its hold): not one woken and trying a target again.',
    aggregator: 'sum',
  },
  clientConnectionsDropped: {
    name: 'candor_client_connections_dropped_total',
    type: 'counter',
    labels: ['listener'],
    help: 'Client connections closed as soon as they were accepted because the listener held its max_connections.',
    aggregator: 'sum',
  },
  clientHandshakeFailures: {
    name: 'candor_client_tls_handshake_failures_total',
    type: 'counter',
    labels: ['listener', 'reason'],
    help: "Client TLS handshakes that failed, by reason: no_client_certificate, client_certificate_refused, no_server_certificate, client_alert (the client refused the gateway's certificate, most often), protocol, plain_http, timeout, closed.",
    aggregator: 'sum',
  },
  logLinesDropped: {
    name: 'candor_log_lines_dropped_total',
    type: 'counter',
    labels: [],
    help: "Log lines (events and access lines) this process dropped: its log's backlog was full, or its destination refused writes (a pipe whose reader left, a full disk).",
    aggregator: 'sum',
  },
  clientConnections: {
    name: 'candor_client_connections',
    type: 'gauge',
    labels: ['listener'],
    help: 'Open client connections, per listener (its configured address).',
    aggregator: 'sum',
  },
  spoolBytes: {
    name: 'candor_spool_bytes',
    type: 'gauge',
    labels: [],
    help: "Bytes slow clients' spool files hold on disk now (limits.spool.max_total bounds it).",
    aggregator: 'sum',
  },
  readerBytes: {
    name: 'candor_reader_held_bytes',
    type: 'gauge',
    labels: [],
    help: 'Response bytes held in memory now for clients that have not taken them, and request bodies read whole whose exchange is not over (limits.buffer_total bounds it).',
    aggregator: 'sum',
  },
  eventLoopDelayP99: {
    name: 'candor_event_loop_delay_p99_seconds',
    type: 'gauge',
    labels: [],
    help: "How late the event loop came back to a 10 ms timer since the previous scrape, its 99th percentile, in the worker where it was worst: every request waiting on that worker waited this long for its turn on top of its upstream's time (a plugin's hook that computes, a burst of TLS handshakes, a collection).",
    aggregator: 'max',
  },
  eventLoopDelayMax: {
    name: 'candor_event_loop_delay_max_seconds',
    type: 'gauge',
    labels: [],
    help: 'The longest the event loop was held since the previous scrape, in the worker where it was longest: a stall, whatever held it, during which that worker answered nothing.',
    aggregator: 'max',
  },
  eventLoopUtilization: {
    name: 'candor_event_loop_utilization',
    type: 'gauge',
    labels: [],
    help: 'The share of the time (0 to 1) the event loop ran code rather than waited for events since the previous scrape, averaged over the workers: near 1, the workers are saturated and requests queue on them.',
    aggregator: 'average',
  },
  residentMemory: {
    name: 'candor_worker_resident_memory_bytes',
    type: 'gauge',
    labels: [],
    help: "The workers' resident memory (RSS), added up (without --workers, the gateway's process's).",
    aggregator: 'sum',
  },
  cpuSeconds: {
    name: 'candor_worker_cpu_seconds_total',
    type: 'counter',
    labels: [],
    help: "CPU time the workers used, user and system, added up (without --workers, the gateway's process's); a worker that died keeps its last scraped count in the sum.",
    aggregator: 'sum',
  },
  canaryShare: {
    name: 'candor_canary_share_percent',
    type: 'gauge',
    labels: ['route', 'upstream'],
    help: "A canary route's share of requests per side, in percent (issue 36): the canary's falls to 0 at a rollback and rises to 100 at a promotion; gone when a reload takes the canary away. Averaged over workers.",
    aggregator: 'average',
  },
  canaryVerdicts: {
    name: 'candor_canary_verdicts_total',
    type: 'counter',
    labels: ['route', 'verdict', 'metric'],
    help: 'Canary steps judged, by verdict: pass (the step moved on, metric empty), worse (the metric that failed it) or inconclusive (passed beside a baseline failing past baseline_max_failed_percent: paused, metric empty). Counted where the controller runs: with --workers, by the primary.',
    aggregator: 'sum',
  },
  storeUp: {
    name: 'candor_store_up',
    type: 'gauge',
    labels: ['store'],
    help: 'While the shared rate-limit store (store="redis") answers: 1; while it does not (rate limits decided by on_error): 0. Averaged over workers.',
    aggregator: 'average',
  },
  storeStateChanges: {
    name: 'candor_store_state_changes_total',
    type: 'counter',
    labels: ['store', 'to'],
    help: 'The rate-limit store going unreachable (to="down") or answering again (to="up"), per connection (each worker has its own).',
    aggregator: 'sum',
  },
  storeFallbacks: {
    name: 'candor_store_fallback_decisions_total',
    type: 'counter',
    labels: ['store', 'decision'],
    help: 'Rate-limited requests decided by store.redis.on_error (decision: allow, deny) because the store did not answer.',
    aggregator: 'sum',
  },
  discoveryChanges: {
    name: 'candor_discovery_changes_total',
    type: 'counter',
    labels: ['upstream'],
    help: "Times an upstream's DNS answer changed its set of targets (the first answer included).",
    aggregator: 'sum',
  },
  discoveryFailures: {
    name: 'candor_discovery_failures_total',
    type: 'counter',
    labels: ['upstream', 'reason'],
    help: "DNS questions of an upstream that failed (reason: empty, or the resolver's code such as ETIMEOUT, ESERVFAIL, ENOTFOUND); the last good targets were kept.",
    aggregator: 'sum',
  },
  serverDuration: {
    name: 'http_server_request_duration_seconds',
    type: 'histogram',
    labels: ['http_route', 'http_request_method', 'http_response_status_code', 'error_type'],
    help: 'Duration of requests, from the request head to the end of the response (OpenTelemetry http.server.request.duration; error_type is its error.type).',
    aggregator: 'sum',
    buckets: HTTP_BUCKETS,
  },
  clientDuration: {
    name: 'http_client_request_duration_seconds',
    type: 'histogram',
    labels: ['upstream', 'target', 'http_request_method', 'http_response_status_code', 'error_type'],
    help: 'Duration of each attempt to a target, to the end of its response or its failure (OpenTelemetry http.client.request.duration).',
    aggregator: 'sum',
    buckets: HTTP_BUCKETS,
  },
  pluginObserved: {
    name: 'candor_plugin_observed',
    type: 'histogram',
    labels: ['plugin', 'name', 'label'],
    help: "What a plugin observes itself (its context.metrics.observe: seconds, by convention), by the plugin's name, the observation's name and its label.",
    aggregator: 'sum',
    buckets: HTTP_BUCKETS,
  },
  connectDuration: {
    name: 'candor_upstream_connect_duration_seconds',
    type: 'histogram',
    labels: ['upstream', 'target'],
    help: 'Time to open a new connection to a target (DNS, TCP and TLS); reused connections are not counted.',
    aggregator: 'sum',
    buckets: CONNECT_BUCKETS,
  },
  timeToFirstByte: {
    name: 'candor_upstream_time_to_first_byte_seconds',
    type: 'histogram',
    labels: ['upstream', 'target'],
    help: "Time from an attempt's start (queue and connect included) to the target's response head.",
    aggregator: 'sum',
    buckets: HTTP_BUCKETS,
  },
} as const satisfies Record<string, MetricSpec>;

/** Who made an answer: the ALB split, plus the client that left before there was one. */
export type Origin = 'gateway' | 'upstream' | 'client';

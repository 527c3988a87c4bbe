/**
 * The OpenTelemetry SDK, made from the config's `tracing` section: a tracer provider whose
 * batch processor posts spans to an OTLP/HTTP endpoint (JSON). The gateway imports this
 * module only when tracing is on, so that a gateway without it never loads the SDK.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Context, createTraceState, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  ParentBasedSampler,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../../core/config/types.ts';
import { randomHex } from '../../core/ids/ids.ts';
import { sharedLookup } from '../../core/net/shared-lookup.ts';
import { VERSION } from '../../core/version.ts';
import type { Logger } from '../log/logger.ts';
import { traceExportTimeoutMs } from './export-timeout.ts';
import type { Tracing } from './spans.ts';

/**
 * What every span of this process says of where it came from: the SDK's defaults; then this
 * process (a worker's own `service.instance.id`, its host and pid: each worker exports its
 * own spans, and without them a collector could not tell two gateways' or two workers' apart);
 * then what the environment says (`OTEL_RESOURCE_ATTRIBUTES`, as every OpenTelemetry SDK reads
 * it: a deployment's environment, a pod's name, an instance id of its own); and last the
 * service, named by the config (`service_name`, else the gateway's name) and Candor's version.
 */
function resourceOf(config: TracingConfig) {
  return defaultResource()
    .merge(
      resourceFromAttributes({
        'service.instance.id': randomUUID(),
        'host.name': hostname(),
        'process.pid': process.pid,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: VERSION }),
    );
}

/** Spans the batch processor keeps waiting for an export, at most (the SDK's default, set here so that QueueWatch knows it). */
const MAX_QUEUE = 2048;
/** The longest attribute value a span keeps (the SDK cuts longer ones): the log line has the whole path. */
const MAX_ATTRIBUTE_LENGTH = 1024;

/** Where an export's end is counted (`candor_trace_spans_total`: the gateway's metrics, a peer layer named by shape). */
interface SpanCounts {
  traceSpans(result: 'exported' | 'failed' | 'dropped', count: number): void;
}

/** Starts the SDK. Spans are exported in batches, off the request path; `shutdown()` flushes them. */
export function startTracing(config: TracingConfig, logger: Logger, metrics: SpanCounts): Tracing {
  const tracing: { next: Tracing['next'] } = { next: undefined };
  // The ids a span takes: those Candor already chose for the request (see Tracing.next),
  // else fresh ones from the same pooled random source the request ids use.
  const ids: IdGenerator = {
    generateTraceId: () => tracing.next?.traceId ?? randomHex(16),
    generateSpanId: () => tracing.next?.spanId ?? randomHex(8),
  };
  // Each result shown from the start (at 0), so that the first loss is a rise a rate() sees.
  for (const result of ['exported', 'failed', 'dropped'] as const) metrics.traceSpans(result, 0);
  const timeoutMs = traceExportTimeoutMs();
  const exporter = new ReportingExporter(
    // The collector's name looked up as the upstreams' are, one lookup at a time: getaddrinfo holds
    // one of libuv's 4 threads until the resolver answers, and each export of a collector whose
    // name is never answered looked it up anew, until the four were held and the upstreams'
    // names, file reads and zlib waited behind them: requests failed (dns_timeout) for the
    // collector's DNS.
    new OTLPTraceExporter({
      url: config.otlpEndpoint,
      timeoutMillis: timeoutMs,
      httpAgentOptions: { lookup: sharedLookup },
    }),
    logger,
    metrics,
    timeoutMs,
  );
  const provider = new BasicTracerProvider({
    resource: resourceOf(config),
    // A client that sent a traceparent decided for its trace; a trace that starts here is
    // recorded at the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
    idGenerator: ids,
    // A span keeps the client's User-Agent and path (a client span its URL too), and up to
    // MAX_QUEUE wait for the collector: with each value as long as a request head allows
    // (limits.header_size, up to 1 MiB), a bound in spans was none in bytes.
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
    // The SDK's defaults: at most 2048 spans queued (MAX_QUEUE) (more are dropped, never buffered without
    // bound), sent 512 at a time, every 5 s or as soon as 512 are waiting.
    spanProcessors: [new QueueWatch(new BatchSpanProcessor(exporter, { maxQueueSize: MAX_QUEUE }), exporter)],
  });
  const tracer = provider.getTracer('candor', VERSION);
  return Object.assign(tracing, {
    tracer,
    api: { ROOT_CONTEXT, trace, createTraceState },
    // A last export that fails is already in the log (ReportingExporter): it must not fail
    // the gateway's close, which has more to flush after it.
    // The processor's flush posts the queue as several exports at once and gives up at the first
    // that fails, skipping the exporter's shutdown: the others are waited for here (each ends at
    // its timeout), or the close's line would count the first failures' spans alone.
    shutdown: () =>
      provider
        .shutdown()
        .catch(() => {})
        .then(() => exporter.shutdown())
        .catch(() => {})
        .then(() => exporter.stopped()),
  });
}

/**
 * The OTLP exporter, with its failures in the gateway's log: the SDK reports them only to
 * its own diagnostic logger, which nobody reads. One line when exports start failing and
 * one when they work again, with the spans lost meanwhile: a collector that is down for an
 * hour is two lines, not one per batch. Every span's end is counted too, exported or lost
 * (`candor_trace_spans_total`): the lines alone said nothing of a collector that fails one
 * export in ten, nor of the spans a worker lost when the gateway stopped while failing.
 */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #logger: Logger;
  readonly #metrics: SpanCounts;
  #lost = 0;
  /** Since the last export that worked: an export failed, spans were dropped (each said once). */
  #failing = false;
  #dropping = false;
  /** Recorded spans not yet handed to an export: the batch processor's queue, counted from outside. */
  waiting = 0;
  readonly #timeoutMs: number;
  /** Exports not yet ended, each ending at its deadline at the latest. */
  readonly #pending = new Set<Promise<void>>();

  constructor(inner: SpanExporter, logger: Logger, metrics: SpanCounts, timeoutMs: number) {
    this.#inner = inner;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#timeoutMs = timeoutMs;
  }

  /** A span the processor drops, its queue full (a collector that stalls, or load past its pace). */
  dropped(): void {
    if (!this.#dropping) this.#logger.warn({ queued: MAX_QUEUE }, 'trace export falls behind: spans dropped');
    this.#dropping = true;
    this.#lost++;
    this.#metrics.traceSpans('dropped', 1);
  }

  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.waiting -= spans.length;
    // The exporter's timeout is an idle one (the socket's): a collector that answers a byte at a
    // time, or sends its head and then a body slower than the timeout, held an export for as long
    // as it kept on, in no line of the log, its spans in no count, and the gateway's close waited
    // for it (the exporter's shutdown awaits every export). An export ends at its timeout whole,
    // as the OTLP exporter spec says and the Go and Java SDKs do; the request itself is left to
    // the exporter (it has no way to cancel one), at most its concurrency limit of them.
    let ended: () => void = () => {};
    const pending = new Promise<void>((resolve) => {
      ended = resolve;
    });
    this.#pending.add(pending);
    const end = (result: ExportResult) => {
      if (!this.#pending.delete(pending)) return;
      clearTimeout(timer);
      ended();
      this.#report(spans.length, result);
      done(result);
    };
    const timer = setTimeout(
      () =>
        end({
          code: ExportResultCode.FAILED,
          error: new Error(`no whole answer from the collector within ${this.#timeoutMs} ms`),
        }),
      this.#timeoutMs,
    );
    this.#inner.export(spans, end);
  }

  #report(count: number, result: ExportResult): void {
    this.#metrics.traceSpans(result.code === ExportResultCode.SUCCESS ? 'exported' : 'failed', count);
    if (result.code === ExportResultCode.SUCCESS) {
      if (this.#lost > 0) this.#logger.info({ lost_spans: this.#lost }, 'trace export works again');
      this.#lost = 0;
      this.#failing = false;
      this.#dropping = false;
    } else {
      if (!this.#failing)
        this.#logger.warn({ ...refusal(result.error), spans: count }, 'trace export failed');
      this.#failing = true;
      this.#lost += count;
    }
  }

  /**
   * The gateway closes: the spans lost since the last export that worked, told whole. The line
   * that said exports fail counted only its own export's; the later ones, and the last ones this
   * close made, were in no line, and no `works again` line comes after a close to count them.
   */
  stopped(): void {
    if (this.#lost > 0) this.#logger.warn({ lost_spans: this.#lost }, 'trace export stopped with spans lost');
    this.#lost = 0;
  }

  /** The exporter's own, or, when an export it holds is past its deadline, as soon as every export ended. */
  shutdown(): Promise<void> {
    return Promise.race([this.#inner.shutdown(), this.#ended()]);
  }

  forceFlush(): Promise<void> {
    return Promise.race([this.#inner.forceFlush?.() ?? Promise.resolve(), this.#ended()]);
  }

  #ended(): Promise<void> {
    return Promise.all(this.#pending).then(() => {});
  }
}

/** The longest part of a collector's answer a log line keeps (a proxy's error page may be long). */
const MAX_REASON_LENGTH = 200;

/**
 * What a failed export's error says, for its log line. A collector's answer is an error with
 * the HTTP status in `code` and the answer's body in `data` (the exporter's OTLPExporterError,
 * read by its shape: the package is the SDK's, not ours); its message alone is the status's
 * reason phrase ("Found", "Bad Request"), which does not say a redirect was not followed or
 * why a collector refused the spans.
 */
function refusal(error: Error | undefined): { error?: string; status?: number; reason?: string } {
  const { code, data } = (error ?? {}) as { code?: unknown; data?: unknown };
  if (typeof code !== 'number') return { error: error?.message };
  const reason = typeof data === 'string' && data !== '' ? data.slice(0, MAX_REASON_LENGTH) : undefined;
  return { error: error?.message, status: code, ...(reason === undefined ? {} : { reason }) };
}

/**
 * The batch processor drops a span that finds its queue full and tells only the SDK's
 * diagnostic logger, which nobody reads: the spans lost to a stalled collector were in no
 * line of the log. This counts the queue from outside (a recorded span goes in, an export
 * takes its batch out) and gives each span that will find it full to the exporter's count.
 */
class QueueWatch implements SpanProcessor {
  readonly #inner: SpanProcessor;
  readonly #exporter: ReportingExporter;
  #shutDown = false;

  constructor(inner: SpanProcessor, exporter: ReportingExporter) {
    this.#inner = inner;
    this.#exporter = exporter;
  }

  onStart(span: Span, context: Context): void {
    this.#inner.onStart(span, context);
  }

  onEnd(span: ReadableSpan): void {
    // As the processor does: a span not sampled is not queued, nor any after its shutdown.
    if (!this.#shutDown && (span.spanContext().traceFlags & 1) === 1) {
      if (this.#exporter.waiting >= MAX_QUEUE) this.#exporter.dropped();
      else this.#exporter.waiting++;
    }
    this.#inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush();
  }

  shutdown(): Promise<void> {
    this.#shutDown = true;
    return this.#inner.shutdown();
  }
}

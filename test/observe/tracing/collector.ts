/**
 * A stand-in for an OpenTelemetry collector on loopback, for the tracing tests: it keeps every
 * span a gateway posts over OTLP/HTTP (JSON), as a collector reads them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP's span kinds and status codes (opentelemetry/proto/trace/v1/trace.proto). */
export const KIND = { server: 2, client: 3 } as const;
export const STATUS = { unset: 0, error: 2 } as const;

type Value = string | number | boolean;

/** One span as the collector got it, attributes flattened to a plain object. */
export interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  /** The span's W3C tracestate, as its context held it (absent when empty). */
  readonly traceState: string | undefined;
  readonly name: string;
  readonly kind: number;
  readonly start: bigint;
  readonly end: bigint;
  readonly attributes: Record<string, Value>;
  readonly status: { code: number; message?: string };
  readonly resource: Record<string, Value>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }>;

function flatten(attributes: OtlpAttributes | undefined): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const { key, value } of attributes ?? []) {
    // OTLP/JSON may write a 64-bit integer as a string.
    out[key] =
      value.stringValue ??
      value.boolValue ??
      value.doubleValue ??
      (value.intValue === undefined ? '<unsupported value>' : Number(value.intValue));
  }
  return out;
}

/**
 * A stand-in for an OpenTelemetry collector: accepts OTLP/HTTP JSON on POST /v1/traces and
 * keeps the spans; with `refuse`, it answers 400 instead (an export that fails at once: the
 * exporter retries an unreachable collector for up to 10 s).
 */
export async function startCollector(refuse = false) {
  const spans: ExportedSpan[] = [];
  const contentTypes: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.push(req.headers['content-type'] ?? '');
      if (refuse) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"refused"}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = flatten(resourceSpans.resource?.attributes);
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
          for (const span of scopeSpans.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              traceState: span.traceState || undefined,
              name: span.name,
              kind: span.kind,
              start: BigInt(span.startTimeUnixNano),
              end: BigInt(span.endTimeUnixNano),
              attributes: flatten(span.attributes),
              status: span.status ?? { code: STATUS.unset },
              resource,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A gateway with one route, `items` (path /items), to `targets`, exporting to `endpoint`. The
 * test client plays a trusted proxy (trust_forwarded_from): the X-Request-Id it sends is the request's id.
 */
export const gatewayYaml = (targets: string[], endpoint: string, tracing = '') => `name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: items
    match: { path: /items }
    upstream: app
upstreams:
  app:
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
    outlier_detection: { consecutive_failures: 0 }
tracing:
  otlp_endpoint: ${endpoint}
${tracing}`;

/**
 * The trace exporter's timeout, read from the environment as the OTLP exporter reads it
 * (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`, else the spec's 10 s).
 * Here, without the SDK: the primary of `serve --workers N` reads it too (a worker's close waits
 * that long for its last exports after its drain, and the primary must not kill it meanwhile).
 */
export function traceExportTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = Number(raw);
    if (Number.isFinite(value) && value > 0) return value;
  }
  return 10_000;
}

/** The limits section as the gateway reads it: sizes in bytes, durations in milliseconds, defaults filled in. */
import { resolve } from 'node:path';
import { present } from './accepted.ts';
import { DEFAULTS } from './defaults.ts';
import type { RawConfig } from './schema.ts';
import type { GatewayConfig, Http2Limits, PerClientLimits } from './types.ts';
import { parseDuration, parseSize } from './units.ts';

/** A duration or a size as written, in milliseconds or bytes; the default when the field is absent. */
export const durationMs = (text: string | undefined, fallback: number): number =>
  text === undefined ? fallback : present(parseDuration(text));
export const sizeBytes = (value: string | number | undefined, fallback: number): number =>
  value === undefined ? fallback : present(parseSize(value));

export function toLimits(raw: RawConfig['limits'], baseDir: string): GatewayConfig['limits'] {
  const limits = raw ?? {};
  return {
    headerSize: sizeBytes(limits.header_size, DEFAULTS.limits.headerSize),
    uriLength: sizeBytes(limits.uri_length, DEFAULTS.limits.uriLength),
    headerTimeout: durationMs(limits.header_timeout, DEFAULTS.limits.headerTimeout),
    bodyIdleTimeout: durationMs(limits.body_idle_timeout, DEFAULTS.limits.bodyIdleTimeout),
    bodyReadTimeout: durationMs(limits.body_read_timeout, DEFAULTS.limits.bodyReadTimeout),
    bodyMinRate: sizeBytes(limits.body_min_rate, DEFAULTS.limits.bodyMinRate),
    sendTimeout: durationMs(limits.send_timeout, DEFAULTS.limits.sendTimeout),
    keepAliveTimeout: durationMs(limits.keep_alive_timeout, DEFAULTS.limits.keepAliveTimeout),
    spool: {
      maxResponse: sizeBytes(limits.spool?.max_response, DEFAULTS.limits.spool.maxResponse),
      maxTotal: sizeBytes(limits.spool?.max_total, DEFAULTS.limits.spool.maxTotal),
    },
    bufferTotal: sizeBytes(limits.buffer_total, DEFAULTS.limits.bufferTotal),
    spoolDir: resolve(baseDir, limits.spool_dir ?? DEFAULTS.limits.spoolDir()),
    http2: toHttp2Limits(limits.http2 ?? {}),
    ...(limits.per_client === undefined ? {} : { perClient: toPerClientLimits(limits.per_client) }),
  };
}

function toHttp2Limits(raw: NonNullable<NonNullable<RawConfig['limits']>['http2']>): Http2Limits {
  const d = DEFAULTS.limits.http2;
  return {
    maxConcurrentStreams: raw.max_concurrent_streams ?? d.maxConcurrentStreams,
    maxHeaderListSize: sizeBytes(raw.max_header_list_size, d.maxHeaderListSize),
    maxHeaderFields: raw.max_header_fields ?? d.maxHeaderFields,
    headerTableSize: sizeBytes(raw.header_table_size, d.headerTableSize),
    maxSessionMemory: sizeBytes(raw.max_session_memory, d.maxSessionMemory),
    connectionBuffer: sizeBytes(raw.connection_buffer, d.connectionBuffer),
    maxInvalidFrames: raw.max_invalid_frames ?? d.maxInvalidFrames,
    maxRejectedStreams: raw.max_rejected_streams ?? d.maxRejectedStreams,
    floodWindow: durationMs(raw.flood_window, d.floodWindow),
    maxClientResets: raw.max_client_resets ?? d.maxClientResets,
    maxPings: raw.max_pings ?? d.maxPings,
    maxSettingsFrames: raw.max_settings_frames ?? d.maxSettingsFrames,
    maxRequests: raw.max_requests ?? d.maxRequests,
    sendTimeout: durationMs(raw.send_timeout, d.sendTimeout),
    idleTimeout: durationMs(raw.idle_timeout, d.idleTimeout),
  };
}

function toPerClientLimits(
  raw: NonNullable<NonNullable<RawConfig['limits']>['per_client']>,
): PerClientLimits {
  return {
    ...(raw.connections === undefined ? {} : { connections: raw.connections }),
    ...(raw.requests === undefined ? {} : { requests: raw.requests }),
    key: raw.key ?? DEFAULTS.perClientKey,
  };
}

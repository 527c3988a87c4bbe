/**
 * Every default of the config, in runtime units (milliseconds, bytes), and nowhere else.
 *
 * The loader fills in what the file leaves out from here; nothing downstream invents a
 * default of its own, so what the docs say, what `candor check` prints and what the
 * gateway does cannot disagree.
 */

import { KiB, MiB } from './units.ts';

export const DEFAULTS = {
  name: 'candor',
  route: {
    path: '/',
    stripPrefix: false,
    limits: { body: 10 * MiB },
  },
  target: { weight: 1 },
  upstream: {
    balancer: 'round_robin',
    pool: { maxConnections: 128, idleTimeout: 30_000 },
    timeouts: { connect: 2_000, response: 30_000, read: 30_000, total: 60_000 },
    tls: { insecureSkipVerify: false },
  },
  errors: { exposeUpstreamAddress: false },
  trustForwardedFrom: [],
  limits: {
    headerSize: 32 * KiB,
    uriLength: 8 * KiB,
    headerTimeout: 10_000,
    bodyIdleTimeout: 30_000,
    keepAliveTimeout: 5_000,
  },
  log: { level: 'info', destination: 'stdout' },
} as const;

/** Bounds on the downstream header section: below 1KiB ordinary browsers fail, above 1MiB it is an attack surface. */
export const HEADER_SIZE_RANGE = { min: 1 * KiB, max: 1 * MiB } as const;

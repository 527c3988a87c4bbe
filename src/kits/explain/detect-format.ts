import type { LogReader } from './log-reader.ts';
import { albReader } from './readers/alb-reader.ts';
import { caddyAccessReader } from './readers/caddy-access-reader.ts';
import { caddyErrorReader } from './readers/caddy-error-reader.ts';
import { candorReader } from './readers/candor-reader.ts';
import { envoyJsonReader, envoyReader, istioReader } from './readers/envoy-reader.ts';
import { gcpLbReader } from './readers/gcp-lb-reader.ts';
import { haproxyReader } from './readers/haproxy-reader.ts';
import { haproxyStderrReader } from './readers/haproxy-stderr-reader.ts';
import { ingressNginxReader } from './readers/ingress-nginx-reader.ts';
import { nginxAccessReader } from './readers/nginx-access-reader.ts';
import { nginxErrorReader } from './readers/nginx-error-reader.ts';
import { traefikClfReader, traefikReader } from './readers/traefik-reader.ts';

/** Every format `explain` reads; a new one is added here and passes the shared contract test. */
export const READERS: readonly LogReader[] = [
  candorReader,
  nginxAccessReader,
  nginxErrorReader,
  haproxyReader,
  ingressNginxReader,
  haproxyStderrReader,
  envoyReader,
  istioReader,
  envoyJsonReader,
  traefikReader,
  traefikClfReader,
  caddyAccessReader,
  caddyErrorReader,
  albReader,
  gcpLbReader,
];

/** How many of a file's first non-blank lines detection looks at. */
export const SNIFF_LINES = 20;

/**
 * The share of a file's non-blank lines that must be written in its format: of the first
 * SNIFF_LINES for detection (or a forced --format), and of the whole file once read. Below
 * it, explain refuses the file rather than report on the few lines it understood.
 */
export const MIN_SHARE = 0.9;

/** Whether `hits` of `total` lines is enough to call a file a format's (with at least one). */
export const enoughOf = (hits: number, total: number) => hits > 0 && hits >= Math.ceil(total * MIN_SHARE);

export function readerFor(format: string, readers: readonly LogReader[] = READERS): LogReader | undefined {
  return readers.find((reader) => reader.format === format);
}

/** How many of `lines` (non-blank) `reader` recognises. */
export function sniffed(reader: LogReader, lines: readonly string[]): number {
  let hits = 0;
  for (const line of lines) if (reader.sniff(line)) hits++;
  return hits;
}

/** The reader that recognises most of `lines` (earlier readers winning ties), and how many it does. */
export function bestFormat(
  lines: readonly string[],
  readers: readonly LogReader[] = READERS,
): { reader: LogReader; hits: number } | undefined {
  let best: { reader: LogReader; hits: number } | undefined;
  for (const reader of readers) {
    const hits = sniffed(reader, lines);
    if (hits > (best?.hits ?? 0)) best = { reader, hits };
  }
  return best;
}

/**
 * The reader of a file's first lines, or undefined when none recognises at least MIN_SHARE of
 * the non-blank ones: a format that matches only part of the sample is not the file's.
 */
export function detectFormat(
  lines: readonly string[],
  readers: readonly LogReader[] = READERS,
): LogReader | undefined {
  const sample = lines.filter((line) => line.trim() !== '');
  const best = bestFormat(sample, readers);
  return best && enoughOf(best.hits, sample.length) ? best.reader : undefined;
}

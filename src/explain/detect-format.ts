import type { LogReader } from './log-reader.ts';
import { albReader } from './readers/alb-reader.ts';
import { caddyAccessReader } from './readers/caddy-access-reader.ts';
import { caddyErrorReader } from './readers/caddy-error-reader.ts';
import { candorReader } from './readers/candor-reader.ts';
import { gcpLbReader } from './readers/gcp-lb-reader.ts';
import { haproxyReader } from './readers/haproxy-reader.ts';
import { nginxAccessReader } from './readers/nginx-access-reader.ts';
import { nginxErrorReader } from './readers/nginx-error-reader.ts';
import { traefikReader } from './readers/traefik-reader.ts';

/** Every format `explain` reads; a new one is added here and passes the shared contract test. */
export const READERS: readonly LogReader[] = [
  candorReader,
  nginxAccessReader,
  nginxErrorReader,
  haproxyReader,
  traefikReader,
  caddyAccessReader,
  caddyErrorReader,
  albReader,
  gcpLbReader,
];

/** How many of a file's first non-blank lines detection looks at. */
export const SNIFF_LINES = 20;

export function readerFor(format: string): LogReader | undefined {
  return READERS.find((reader) => reader.format === format);
}

/** The reader that recognises most of `lines` (a file's first ones), or undefined if none does. */
export function detectFormat(lines: readonly string[]): LogReader | undefined {
  let best: LogReader | undefined;
  let bestHits = 0;
  for (const reader of READERS) {
    let hits = 0;
    for (const line of lines) if (line.trim() !== '' && reader.sniff(line)) hits++;
    if (hits > bestHits) {
      best = reader;
      bestHits = hits;
    }
  }
  return best;
}

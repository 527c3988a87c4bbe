/**
 * The origin every system forwards to: a separate nginx (1 worker, pinned to the load
 * generator's CPU, no access log) serving fixed responses from memory or the page cache.
 *
 * - `/small`: 100 bytes; `/cached`: the same, with `Cache-Control: public, max-age=3600`; `/64k`: a 64 KiB file; `/1m`: a 1 MiB file (bench/h2-flood.ts);
 *   `/text-64k`: 64 KiB of JSON as an API answers it, `application/json` (bench/compression.ts);
 *   `/upload`: reads the whole POST body (up to
 *   2 MiB, in memory) before it answers "ok", so keep-alive connections stay clean;
 * - anything else: the same 100 bytes as `/small`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxMain, startNginx } from './nginx.ts';
import type { PinnedProcess } from './process.ts';
import { waitForPort } from './process.ts';

/** The 100-byte body of `/small`. */
export const SMALL_BODY = 'x'.repeat(99) + '\n';
export const LARGE_SIZE = 64 * 1024;

const WORDS = (
  'order invoice customer shipped pending refunded warehouse berlin lisbon osaka denver ' +
  'priority standard express parcel pallet review approved rejected draft archived gateway ' +
  'upstream latency timeout retry budget circuit route listener certificate renewal'
).split(' ');

/**
 * The body of `/text-64k`: `size` bytes of JSON records (ids, names, words, numbers, dates), as
 * an API answers, so that it compresses as such text does (a few times, not the hundreds of
 * times of `/64k`'s one repeated byte). The same bytes in every run: a fixed-seed generator.
 */
export function jsonText(size: number): Buffer {
  let seed = 20261123;
  // A 32-bit linear congruential generator (Numerical Recipes' constants): fixed, not random.
  const next = (n: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  const word = () => WORDS[next(WORDS.length)];
  const records: string[] = [];
  let length = 2;
  while (length < size) {
    const record = JSON.stringify({
      id: 100000 + next(900000),
      customer: `${word()}-${word()}-${next(10000)}`,
      status: word(),
      tags: [word(), word(), word()],
      amount: next(1000000) / 100,
      quantity: next(50),
      created: new Date(Date.UTC(2026, next(12), 1 + next(28), next(24), next(60))).toISOString(),
      note: `${word()} ${word()} ${word()} ${word()} ${word()}`,
    });
    records.push(record);
    length += record.length + 2;
  }
  // Cut back to whole records, padded with spaces (still valid JSON) to exactly `size` bytes.
  let text = `[${records.join(',\n')}]`;
  while (text.length > size) {
    records.pop();
    text = `[${records.join(',\n')}]`;
  }
  return Buffer.from(text.padEnd(size, ' '));
}

function originConf(dir: string, port: number): string {
  const www = join(dir, 'www');
  return nginxMain(
    dir,
    1,
    `  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  open_file_cache max=16;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
    location = /small { default_type text/plain; return 200 "${SMALL_BODY.slice(0, -1)}\\n"; }
    # The same 100 bytes, storable for an hour: what a cache in front keeps (bench/cache-hit.ts).
    location = /cached {
      default_type text/plain;
      add_header Cache-Control "public, max-age=3600";
      return 200 "${SMALL_BODY.slice(0, -1)}\\n";
    }
    location = /64k { }
    location = /1m { }
    location = /text-64k { default_type application/json; }
    # \`return\` would answer in the rewrite phase, before the body is read. Here the mirror
    # module reads the whole body first (precontent phase); the static module then refuses the
    # POST (405), which error_page turns into a 200 "ok" from the file /ok.
    location = /upload {
      client_max_body_size 2m;
      client_body_buffer_size 2m;
      mirror /sink;
      mirror_request_body on;
      error_page 405 =200 /ok;
    }
    location = /ok { internal; default_type text/plain; }
    location = /sink { internal; return 204; }
    location / { default_type text/plain; return 200 "${SMALL_BODY.slice(0, -1)}\\n"; }
  }`,
  );
}

/** Starts the origin on `cpu` listening on 127.0.0.1:`port`. */
export async function startOrigin(dir: string, port: number, cpu: string): Promise<PinnedProcess> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', '64k'), Buffer.alloc(LARGE_SIZE, 'y'));
  writeFileSync(join(dir, 'www', '1m'), Buffer.alloc(1024 * 1024, 'y'));
  writeFileSync(join(dir, 'www', 'text-64k'), jsonText(LARGE_SIZE));
  // /upload must exist for the static module to answer 405 (not 404) to the POST.
  writeFileSync(join(dir, 'www', 'upload'), '');
  writeFileSync(join(dir, 'www', 'ok'), 'ok\n');
  const proc = startNginx(dir, originConf(dir, port), cpu);
  await waitForPort(port, proc, 10_000);
  return proc;
}

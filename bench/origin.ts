/**
 * The origin every system forwards to: a separate nginx (1 worker, pinned to the load
 * generator's CPU, no access log) serving fixed responses from memory or the page cache.
 *
 * - `/small`: 100 bytes; `/cached`: the same, with `Cache-Control: public, max-age=3600`; `/64k`: a 64 KiB file; `/1m`: a 1 MiB file (bench/h2-flood.ts);
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
  // /upload must exist for the static module to answer 405 (not 404) to the POST.
  writeFileSync(join(dir, 'www', 'upload'), '');
  writeFileSync(join(dir, 'www', 'ok'), 'ok\n');
  const proc = startNginx(dir, originConf(dir, port), cpu);
  await waitForPort(port, proc, 10_000);
  return proc;
}

/**
 * The two proxies of bench/compression.ts, each with two routes to the same origin that differ
 * only in compression: `/plain/` (none) and `/gzip/` (gzip, level 6), both stripping their prefix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxMain, startNginx } from './nginx.ts';
import { NODE_BIN, REPO_DIR } from './paths.ts';
import { type PinnedProcess, startPinned, waitForPort } from './process.ts';

/**
 * zlib's default level (Z_DEFAULT_COMPRESSION is 6): what Candor's gzip runs at (node:zlib's
 * createGzip without options, src/proxy/forward/compressing-sink.ts), so nginx is set to it
 * (its own default is 1).
 */
export const GZIP_LEVEL = 6;

export interface ProxyPlace {
  readonly dir: string;
  readonly port: number;
  readonly originPort: number;
  readonly cpu: string;
}

/** Candor, one worker, pool of 256, access log at info to a file. */
export async function startCandorCompressing(place: ProxyPlace): Promise<PinnedProcess> {
  const config = join(place.dir, 'candor.yaml');
  writeFileSync(
    config,
    `name: bench
listen:
  - address: 127.0.0.1:${place.port}
routes:
  - name: plain
    match: { path: /plain }
    upstream: origin
    strip_prefix: true
  - name: gzip
    match: { path: /gzip }
    upstream: origin
    strip_prefix: true
    compression: { encodings: [gzip] }
upstreams:
  origin:
    targets: [ { url: "http://127.0.0.1:${place.originPort}" } ]
    pool: { max_connections: 256, idle_timeout: 30s }
log:
  level: info
  destination: ${join(place.dir, 'access.log')}
`,
  );
  const proc = startPinned({
    cpu: place.cpu,
    command: NODE_BIN,
    args: [join(REPO_DIR, 'bin', 'candor.js'), 'serve', '--config', config, '--workers', '1'],
    cwd: REPO_DIR,
    env: { ...process.env, NODE_ENV: 'production' },
    outputFile: join(place.dir, 'output.log'),
  });
  await waitForPort(place.port, proc, 20_000);
  return proc;
}

/**
 * nginx, one worker, configured as bench/nginx-proxy.ts's proxy (keep-alive pool of 256,
 * combined access log), `gzip on` at GZIP_LEVEL on `/gzip/` for the origin's JSON;
 * `gzip_proxied any` so that a request with `Via` would be compressed too, `gzip_vary on` as
 * Candor always says Vary, `gzip_min_length` at Candor's default `min_size` (1 KiB).
 */
export async function startNginxCompressing(place: ProxyPlace): Promise<PinnedProcess> {
  const conf = nginxMain(
    place.dir,
    1,
    `  access_log ${join(place.dir, 'access.log')} combined;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  upstream origin {
    server 127.0.0.1:${place.originPort};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_max_temp_file_size 0;
  server {
    listen 127.0.0.1:${place.port} backlog=4096;
    location /plain/ { proxy_pass http://origin/; }
    location /gzip/ {
      gzip on;
      gzip_comp_level ${GZIP_LEVEL};
      gzip_types application/json;
      gzip_proxied any;
      gzip_vary on;
      gzip_min_length 1024;
      proxy_pass http://origin/;
    }
  }`,
  );
  const proc = startNginx(place.dir, conf, place.cpu);
  await waitForPort(place.port, proc, 10_000);
  return proc;
}

/**
 * The two proxies of bench/compression.ts, each with two routes to the same origin that differ
 * only in compression: `/plain/` (none) and `/gzip/` (gzip, level 6), both stripping their prefix.
 */
import type { PinnedProcess } from './process.ts';
import { candorYaml, type ProxyPlace, startCandor, startNginxProxy } from './systems.ts';

/**
 * zlib's default level (Z_DEFAULT_COMPRESSION is 6): what Candor's gzip runs at (node:zlib's
 * createGzip without options, src/proxy/forward/compressors.ts), so nginx is set to it
 * (its own default is 1).
 */
export const GZIP_LEVEL = 6;

/** Candor, one worker, pool of up to 1024 (as bench/systems.ts), access log at info to a file. */
export function startCandorCompressing(place: ProxyPlace): Promise<PinnedProcess> {
  return startCandor(
    place,
    candorYaml(place, {
      routes: `  - name: plain
    match: { path: /plain }
    upstream: origin
    strip_prefix: true
  - name: gzip
    match: { path: /gzip }
    upstream: origin
    strip_prefix: true
    compression: { encodings: [gzip] }
`,
    }),
  );
}

/**
 * nginx, one worker, configured as bench/nginx-proxy.ts's proxy (keep-alive pool of 256,
 * combined access log), `gzip on` at GZIP_LEVEL on `/gzip/` for the origin's JSON;
 * `gzip_proxied any` so that a request with `Via` would be compressed too, `gzip_vary on` as
 * Candor always says Vary, `gzip_min_length` at Candor's default `min_size` (1 KiB).
 */
export function startNginxCompressing(place: ProxyPlace): Promise<PinnedProcess> {
  return startNginxProxy(
    place,
    `  proxy_max_temp_file_size 0;
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
}

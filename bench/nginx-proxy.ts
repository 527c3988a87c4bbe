/** nginx as a reverse proxy: keep-alive upstream pool, streaming request bodies, access log on. */
import { join } from 'node:path';
import { nginxMain, startNginx } from './nginx.ts';
import { waitForPort } from './process.ts';
import type { SystemContext, SystemDefinition } from './systems.ts';

function proxyConf(context: SystemContext, accessLog: string): string {
  return nginxMain(
    context.dir,
    context.workers,
    `  access_log ${accessLog} combined;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  upstream origin {
    server 127.0.0.1:${context.originPort};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  # max_fails=0: try the refused port on every request, as the other systems do.
  upstream dead { server 127.0.0.1:${context.deadPort} max_fails=0; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_request_buffering off;
  proxy_max_temp_file_size 0;
  server {
    listen 127.0.0.1:${context.port} backlog=4096;
    client_max_body_size 2m;
    location /fail { proxy_pass http://dead; }
    location / { proxy_pass http://origin; }
  }`,
  );
}

export const nginxProxy: SystemDefinition = {
  id: 'nginx',
  label: 'nginx',
  group: 'c',
  setup:
    'worker_processes = --workers; upstream keepalive 256, proxy_http_version 1.1; request bodies streamed ' +
    '(proxy_request_buffering off), responses buffered in memory only (proxy_max_temp_file_size 0); ' +
    'combined access log to a file; failing upstream with max_fails=0',
  async start(context) {
    const accessLog = join(context.dir, 'access.log');
    const proc = startNginx(context.dir, proxyConf(context, accessLog), context.cpu);
    await waitForPort(context.port, proc, 10_000);
    return { port: context.port, process: proc, accessLog };
  },
};

/** nginx as a reverse proxy: keep-alive upstream pool, streaming request bodies, access log on. */
import { join } from 'node:path';
import { type SystemContext, type SystemDefinition, startNginxProxy } from './systems.ts';

/** Beside the origin (systems.ts): the refused port's upstream, request bodies streamed, responses in memory. */
function proxyConf(context: SystemContext): string {
  return `  # max_fails=0: try the refused port on every request, as the other systems do.
  upstream dead { server 127.0.0.1:${context.deadPort} max_fails=0; }
  proxy_request_buffering off;
  proxy_max_temp_file_size 0;
  server {
    listen 127.0.0.1:${context.port} backlog=4096;
    client_max_body_size 2m;
    location /fail { proxy_pass http://dead; }
    location / { proxy_pass http://origin; }
  }`;
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
    const proc = await startNginxProxy(context, proxyConf(context), context.workers);
    return { port: context.port, process: proc, accessLog: join(context.dir, 'access.log') };
  },
};

/** HAProxy in HTTP mode: one thread, connection reuse to the origin, access log on. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPinned, waitForPort } from './process.ts';
import type { SystemContext, SystemDefinition } from './systems.ts';

function haproxyConf(context: SystemContext): string {
  return `global
  nbthread ${context.workers}
  maxconn 8000
  log stdout format raw local0 info
defaults
  mode http
  log global
  option httplog
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s
frontend bench
  bind 127.0.0.1:${context.port}
  use_backend dead if { path /fail } || { path_beg /fail/ }
  default_backend origin
backend origin
  server origin 127.0.0.1:${context.originPort}
backend dead
  # No retries: a refused connection is answered at once, as the other systems do.
  retries 0
  server dead 127.0.0.1:${context.deadPort}
`;
}

export const haproxy: SystemDefinition = {
  id: 'haproxy',
  label: 'HAProxy',
  group: 'c',
  setup:
    'nbthread = --workers; http-reuse always; option httplog to stdout, redirected to a file; ' +
    'failing backend with retries 0 (HAProxy answers 503 there)',
  async start(context) {
    const file = join(context.dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConf(context));
    // -db: foreground, no daemon; stdout (the access log) goes to access.log.
    const accessLog = join(context.dir, 'access.log');
    const proc = startPinned({
      cpu: context.cpu,
      command: 'haproxy',
      args: ['-db', '-f', file],
      outputFile: accessLog,
    });
    await waitForPort(context.port, proc, 10_000);
    return { port: context.port, process: proc, accessLog };
  },
};

/**
 * Running an nginx instance of our own: a config with every path inside a private folder,
 * in the foreground (`daemon off`), pinned to one CPU.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PinnedProcess, startPinned } from './process.ts';

/** The top of an nginx.conf whose files (pid, logs, temp folders) all live in `dir`. */
export function nginxMain(dir: string, workers: number, http: string): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${join(dir, `${kind}_temp`)};`)
    .join('\n');
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} error;
events { worker_connections 8192; }
http {
${temp}
  default_type application/octet-stream;
  sendfile on;
  tcp_nodelay on;
  server_tokens off;
${http}
}
`;
}

/** Writes `conf` to dir/nginx.conf and starts nginx with it on `cpu` (see startPinned). */
export function startNginx(dir: string, conf: string, cpu: string | undefined): PinnedProcess {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return startPinned({
    cpu,
    command: 'nginx',
    args: ['-p', `${dir}/`, '-c', file, '-e', join(dir, 'error.log')],
    outputFile: join(dir, 'output.log'),
  });
}

/**
 * Upstreams on Unix sockets (gunicorn, PHP-FPM behind nginx or Caddy), and connects the proxy's
 * own machine forbids (SELinux's httpd_can_network_connect off: "(13: Permission denied)").
 * nginx writes a socket's upstream as "http://unix:/run/app.sock:/path"; explain cut it at the
 * first "/", so every socket counted as one upstream "unix:". Caddy's Go errors say
 * "dial unix /run/app.sock: connect: …": explain read only "dial tcp", so Caddy's own 502s for a
 * socket nobody listens on were "cause unknown". A connect refused with EACCES or EPERM is not
 * an upstream that is down ("start the upstream" is untrue): the gateway's own classifier
 * (src/core/failure/classify.ts) says destination_ip_unroutable, the machine forbids it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain } from './explain-fixture.ts';

type Report = Awaited<ReturnType<typeof explain>>;

/** type → "upstream (count)" where it failed. */
function where(report: Report): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const shape of report.shapes)
    for (const t of shape.types) out[t.type] = t.upstreams.map((u) => `${u.upstream} (${u.count})`).sort();
  return out;
}

test('nginx: each Unix socket is its own upstream, and a forbidden connect is not a refused one', async () => {
  const dir = tempDir('candor-unix-nginx-');
  const cases: Array<[string, number, string, string]> = [
    [
      'a',
      502,
      'connect() to unix:/run/gunicorn.sock failed (2: No such file or directory) while connecting to upstream',
      'http://unix:/run/gunicorn.sock:/a',
    ],
    [
      'b',
      502,
      'connect() to unix:/run/php/php8.2-fpm.sock failed (111: Connection refused) while connecting to upstream',
      'fastcgi://unix:/run/php/php8.2-fpm.sock:',
    ],
    [
      'c',
      502,
      'connect() to unix:/run/gunicorn.sock failed (111: Connection refused) while connecting to upstream',
      'http://unix:/run/gunicorn.sock:/c',
    ],
    [
      'd',
      502,
      'connect() to 127.0.0.1:8080 failed (13: Permission denied) while connecting to upstream',
      'http://127.0.0.1:8080/d',
    ],
    [
      'e',
      504,
      'upstream timed out (110: Connection timed out) while reading response header from upstream',
      'http://unix:/run/gunicorn.sock:/e',
    ],
  ];
  const access = cases.map(
    ([path, status], i) =>
      `203.0.113.5 - - [21/Nov/2026:13:11:0${i} +0000] "GET /${path} HTTP/1.1" ${status} 157 "-" "curl/8.5.0"\n`,
  );
  const errors = cases.map(
    ([path, , message, upstream], i) =>
      `2026/11/21 13:11:0${i} [error] 29#29: *${i + 1} ${message}, client: 203.0.113.5, server: shop.example, request: "GET /${path} HTTP/1.1", upstream: "${upstream}", host: "shop.example"\n`,
  );
  writeFileSync(join(dir, 'access.log'), access.join(''));
  writeFileSync(join(dir, 'error.log'), errors.join(''));
  const saved = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    const report = await explain([join(dir, 'access.log'), join(dir, 'error.log')]);
    assert.deepEqual(where(report), {
      connection_refused: ['unix:/run/gunicorn.sock (2)', 'unix:/run/php/php8.2-fpm.sock (1)'],
      destination_ip_unroutable: ['127.0.0.1:8080 (1)'],
      http_response_timeout: ['unix:/run/gunicorn.sock (1)'],
    });
  } finally {
    process.env.TZ = saved;
  }
});

test("Caddy: a Unix socket's dial errors name their cause and socket, not 'cause unknown'", async () => {
  const dir = tempDir('candor-unix-caddy-');
  const messages = [
    'dial unix /run/app.sock: connect: connection refused',
    'dialing backend: dial unix /run/php/php8.2-fpm.sock: connect: no such file or directory',
    'dial unix /run/app.sock: connect: permission denied',
    'dial tcp 127.0.0.1:8080: connect: permission denied',
    'read unix @->/run/app.sock: read: connection reset by peer',
  ];
  const access: string[] = [];
  const errors: string[] = [];
  for (const [i, msg] of messages.entries()) {
    const request = {
      remote_ip: '127.0.0.1',
      remote_port: String(40000 + i),
      proto: 'HTTP/1.1',
      method: 'GET',
      host: 'shop.example',
      uri: `/c${i}`,
      headers: { 'User-Agent': ['curl/8.5.0'] },
    };
    const ts = 1795346296 + i;
    errors.push(
      `${JSON.stringify({ level: 'error', ts, logger: 'http.log.error', msg, request, duration: 0.0006, status: 502, err_id: `e${i}`, err_trace: 'reverseproxy.statusError (reverseproxy.go:1269)' })}\n`,
    );
    access.push(
      `${JSON.stringify({ level: 'error', ts, logger: 'http.log.access', msg: 'handled request', request, bytes_read: 0, user_id: '', duration: 0.0006, size: 0, status: 502, resp_headers: { Server: ['Caddy'] } })}\n`,
    );
  }
  writeFileSync(join(dir, 'access.log'), access.join(''));
  writeFileSync(join(dir, 'caddy.log'), errors.join(''));
  const report = await explain([join(dir, 'access.log'), join(dir, 'caddy.log')]);
  assert.deepEqual(where(report), {
    connection_refused: ['unix:/run/app.sock (1)', 'unix:/run/php/php8.2-fpm.sock (1)'],
    destination_ip_unroutable: ['127.0.0.1:8080 (1)', 'unix:/run/app.sock (1)'],
    connection_terminated: ['unix:/run/app.sock (1)'],
  });
  assert.equal(report.unexplained5xx, 0);
});

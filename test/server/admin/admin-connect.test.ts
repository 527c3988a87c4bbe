/**
 * A CONNECT to the admin listener is answered as any other method is: node:http hands it to a
 * 'connect' listener, and with none closed its connection with no status and no log line. Its
 * authority-form target is no path (400, `admin bad request target`); a path it names gets that
 * path's answer (405 with Allow). The real admin endpoints over the primary's control, on a raw
 * socket.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { rawRequest } from '../../helpers/http-client.ts';

const TOKEN = 'admin-connect-token-0123456789abcdef';
let server: AdminServer;
const lines: Array<Record<string, unknown>> = [];

before(async () => {
  const config = parseConfig(
    'name: connect\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - name: web\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
    '<test>',
    {},
  );
  const logger = createLoggerOn(
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
    'info',
    'connect',
  );
  const control = new ClusterControl('<test>', config, logger);
  control.serving = true;
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    routes: adminEndpoints(control),
    logger,
  });
});

after(() => server?.close());

/** The log lines about CONNECT requests since `from`. */
const connectLines = (from: number) => lines.slice(from).filter((l) => l.method === 'CONNECT');

test('CONNECT host:port is a 400 problem (its target is no path), logged once, the connection closed', async () => {
  const port = server.port();
  for (const target of [`127.0.0.1:${port}`, `localhost:${port}`]) {
    const from = lines.length;
    const { raw, status, closed } = await rawRequest(
      port,
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    );
    assert.equal(status, 400, `${target}: ${raw.slice(0, 300)}`);
    assert.match(raw, /\r\ncontent-type: application\/problem\+json\r\n/i, target);
    assert.match(raw, /\r\nconnection: close\r\n/i, target);
    assert.match(raw, /"detail": "the request target is not a path of the admin API"/, target);
    assert.ok(closed, `${target}: the connection ends with the answer`);
    const logged = connectLines(from);
    assert.deepEqual(
      logged.map((l) => [l.msg, l.target]),
      [['admin bad request target', target]],
      target,
    );
  }
});

test("CONNECT on a path is that path's 405 with Allow (open path without the token, others with it)", async () => {
  const port = server.port();
  for (const [path, auth] of [
    ['/live', ''],
    ['/status', `Authorization: Bearer ${TOKEN}\r\n`],
  ]) {
    const from = lines.length;
    const { raw, status, closed } = await rawRequest(
      port,
      `CONNECT ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}\r\n`,
    );
    assert.equal(status, 405, `${path}: ${raw.slice(0, 300)}`);
    assert.match(raw, /\r\nallow: GET, HEAD\r\n/i, path);
    assert.match(raw, /\r\ncontent-type: application\/problem\+json\r\n/i, path);
    assert.ok(closed, `${path}: the connection ends with the answer`);
    assert.deepEqual(
      connectLines(from).map((l) => [l.msg, l.path, l.status]),
      [['admin request', path, 405]],
      path,
    );
  }
  // Without the token, a path that needs it is a 401, as for any other method.
  const { status } = await rawRequest(port, `CONNECT /status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  assert.equal(status, 401);
});

test('a CONNECT whose client resets as it is answered ends that connection alone', async () => {
  // node:http took its 'error' listener off the socket it hands to 'connect': the answer's
  // `write ECONNRESET` was an uncaught error, which in the primary ends the gateway. A long
  // target makes the answer's write meet the reset.
  const target = `/${'x'.repeat(8000)}`;
  for (let i = 0; i < 300; i++) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.port(), '127.0.0.1', () => {
        socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        setImmediate(() => {
          socket.resetAndDestroy();
          resolve();
        });
      });
      socket.on('error', () => {});
    });
  }
  const { status } = await rawRequest(server.port(), 'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.equal(status, 200);
});

/**
 * Wrong admin tokens are bounded per client address: ten, then one every six seconds; past
 * them the client is answered 429 with Retry-After, logged, before its token is looked at (the
 * right one too: a guesser learns nothing), while another address goes on being checked.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { ADMIN_TOKEN_GUESSES } from '../../../src/server/admin/token-guesses.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';

const TOKEN = 'admin-guesses-token-0123456789abcdef';
const lines: Record<string, unknown>[] = [];
let server: AdminServer;

before(async () => {
  const config = parseConfig(
    'name: guesses\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - name: web\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
    '<test>',
    {},
  );
  const logger = createLoggerOn(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    }),
    'info',
    'guesses',
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

/** GET /config from `from` (a loopback address of the client's choosing) with `token`: status and head. */
function call(token: string, from: string): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.port(), localAddress: from });
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      raw += text;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
      resolve({ status: Number(raw.split(' ')[1]), head });
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.write(
      `GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
  });
}

test('past ten wrong admin tokens an address gets 429 + Retry-After, its token unchecked; another address is checked', async () => {
  for (let i = 0; i < ADMIN_TOKEN_GUESSES.burst; i++)
    assert.equal((await call(`guess-${i}`, '127.0.0.2')).status, 401, `guess ${i}`);
  const refused = await call('guess-again', '127.0.0.2');
  assert.equal(refused.status, 429);
  // One guess more every six seconds: the next is at most that far.
  assert.match(refused.head, /\r\nretry-after: [1-6]\r\n/);
  assert.match(refused.head, /\r\ncontent-type: application\/problem\+json/);
  // The right token from that address is not checked either: no telling it is right.
  assert.equal((await call(TOKEN, '127.0.0.2')).status, 429);
  const logged = lines.filter((l) => l.msg === 'admin token guesses refused');
  assert.equal(logged.length, 2);
  assert.equal(logged[0].level, 'warn');
  assert.match(String(logged[0].who), /^127\.0\.0\.2:/);
  // Another address has its share of its own.
  assert.equal((await call(TOKEN, '127.0.0.3')).status, 200);
  assert.equal((await call('guess', '127.0.0.3')).status, 401);
});

/**
 * The admin API under attack (docs/hostile-peers.md "The admin API under attack"), on the real
 * endpoints over the primary's control and a real socket. A maintenance message is held to the
 * config's rule (no ESC, CR, NUL or bidi override for a client's terminal to obey); a write's
 * query is never dropped unread (`POST /reload?file=OTHER` reloaded the running file); the
 * authority checked is the one the request names (an absolute-form target's, not a Host beside
 * it; two Hosts are a 400). And what was right already, pinned: a body's `__proto__` pollutes
 * nothing, names are matched as written (NFC and NFD, a trailing space), changes sent together
 * are applied one at a time and the last one answered is the one in force. A connection that
 * pipelines past the bound is closed: its answers were held in the primary until it read them.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { adminCall } from '../../helpers/serve-process.ts';

const TOKEN = 'admin-attack-token-0123456789abcdef';
const lines: Record<string, unknown>[] = [];
let server: AdminServer;
let control: ClusterControl;

before(async () => {
  const config = parseConfig(
    'name: attack\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n' +
      '  - name: web\n    upstream: app\n' +
      '  - name: "caf\u00e9"\n    match: { path: /cafe }\n    upstream: app\n' +
      'upstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
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
    'attack',
  );
  control = new ClusterControl('<test>', config, logger);
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

const maintenance = (body: unknown) =>
  adminCall(server.port(), 'PUT', '/routes/maintenance', { token: TOKEN, body });

test('a maintenance message the config would refuse (ESC, CR, NUL, a bidi override) is a 400 naming it: clients would get it raw', async () => {
  for (const [message, code, at] of [
    ['\u001b[2J\u001b[31mhacked', '001B', 1],
    ['Back soon\r\nSet-Cookie: a=1', '000D', 10],
    ['a\u0000b', '0000', 2],
    ['Back at \u202enoon', '202E', 9],
  ] as const) {
    const { status, body } = await maintenance({ route: 'web', enabled: true, message });
    assert.equal(status, 400, JSON.stringify(message));
    assert.equal(body.field, 'message');
    assert.match(
      String(body.detail),
      new RegExp(
        `^message: expected a message without control characters but tab and newline .*U\\+${code} at character ${at} of `,
      ),
    );
  }
  assert.deepEqual(control.changes, [], 'nothing was applied');
  // Tab and newline are the config's too, and a message of 500 astral characters' halves.
  const kept = await maintenance({ route: 'web', enabled: false, message: 'Back\tat noon.\nSorry.' });
  assert.equal(kept.status, 200, kept.text);
});

test('a maintenance message holding half a surrogate pair is a 400 naming it: problem+json would carry "\\ud800", which strict JSON readers refuse', async () => {
  // JSON.stringify writes a lone surrogate as its escape: Rust's serde_json refuses the whole
  // body, Python cannot print it, and the plain-text and HTML bodies carry U+FFFD in its place.
  const changesBefore = control.changes;
  for (const [message, code, at] of [
    ['Back \ud800 soon', 'D800', 6],
    ['Back soon \udfff', 'DFFF', 11],
    ['\udc00\ud83d', 'DC00', 1],
  ] as const) {
    const { status, body } = await maintenance({ route: 'web', enabled: true, message });
    assert.equal(status, 400, JSON.stringify(message));
    assert.equal(body.field, 'message');
    assert.match(
      String(body.detail),
      new RegExp(
        `^message: expected a message of whole characters, got half a surrogate pair, U\\+${code}, at character ${at} of `,
      ),
    );
  }
  assert.deepEqual(control.changes, changesBefore, 'nothing was applied');
  // A whole pair (an emoji) is a character.
  const kept = await maintenance({ route: 'web', enabled: false, message: 'Back soon \ud83d\ude00' });
  assert.equal(kept.status, 200, kept.text);
});

test("a write's query is read or refused, never dropped: POST /reload?file=OTHER reloaded the running file", async () => {
  const changesBefore = control.changes;
  let reloads = 0;
  const reload = control.reload.bind(control);
  control.reload = (...args: Parameters<typeof reload>) => {
    reloads++;
    return reload(...args);
  };
  for (const [method, path, body] of [
    ['POST', '/reload?file=/etc/candor/other.yaml', undefined],
    ['PUT', '/routes/maintenance?enabled=true', { route: 'web', enabled: false }],
    ['POST', '/targets/drain?target=http://127.0.0.1:9', { upstream: 'app', target: 'http://127.0.0.1:9' }],
  ] as const) {
    const answer = await adminCall(server.port(), method, path, { token: TOKEN, body });
    const name = new URL(path, 'http://x').searchParams.keys().next().value;
    assert.equal(answer.status, 400, `${method} ${path}: ${answer.text}`);
    assert.equal(answer.body.field, name);
    assert.equal(
      answer.body.detail,
      `${name}: ${method} ${path.split('?')[0]} reads no query: its fields are a JSON body's (nothing was changed)`,
    );
  }
  assert.equal(reloads, 0, 'no reload was made');
  assert.deepEqual(control.changes, changesBefore, 'no change was made');
  // A read ignores what it does not read (a cache-buster's ?_=1), as it changes nothing.
  const events = await adminCall(server.port(), 'GET', '/events?_=1', { token: TOKEN });
  assert.equal(events.status, 200);
});

test("the authority checked is the request's: an absolute-form target's (RFC 9112 §3.2.2), and two Hosts are a 400 (§3.2)", async () => {
  const auth = `Authorization: Bearer ${TOKEN}\r\n`;
  const absolute = await rawRequest(
    server.port(),
    `GET http://evil.example/status HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`,
  );
  assert.equal(absolute.status, 421, absolute.raw);
  assert.match(absolute.raw, /not for Host \\"evil\.example\\"/);
  const own = await rawRequest(
    server.port(),
    `GET http://127.0.0.1:${server.port()}/status HTTP/1.1\r\nHost: evil.example\r\n${auth}Connection: close\r\n\r\n`,
  );
  assert.equal(own.status, 200, own.raw.slice(0, 300));
  const two = await rawRequest(
    server.port(),
    `GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(two.status, 400, two.raw);
  assert.match(two.raw, /more than one Host/);
});

test('two Authorization fields are a 400, whichever holds the token: node:http kept the first, so the right token first let a second, wrong one through', async () => {
  const before = lines.length;
  for (const [first, second] of [
    [TOKEN, 'wrong-token-0123456789'],
    ['wrong-token-0123456789', TOKEN],
  ]) {
    const two = await rawRequest(
      server.port(),
      `GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${first}\r\n` +
        `Authorization: Bearer ${second}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(two.status, 400, two.raw);
    assert.match(two.raw, /more than one Authorization/);
    assert.ok(!two.raw.includes(TOKEN), 'the token is not echoed');
  }
  const logged = lines
    .slice(before)
    .filter((l) => l.msg === 'admin bad request: more than one Authorization');
  assert.equal(logged.length, 2, JSON.stringify(lines.slice(before)));
  assert.ok(!JSON.stringify(lines.slice(before)).includes(TOKEN), 'the token is nowhere in the log');
  // No guess was spent on them: the right token alone still passes at once.
  const one = await adminCall(server.port(), 'GET', '/status', { token: TOKEN });
  assert.equal(one.status, 200);
});

test('a body\'s "__proto__" or "constructor" pollutes nothing: a later body without "enabled" is still refused', async () => {
  for (const body of [
    '{"__proto__":{"enabled":true,"polluted":1},"route":"web","enabled":false}',
    '{"constructor":{"prototype":{"enabled":true,"polluted":1}},"route":"web","enabled":false}',
  ]) {
    const answer = await adminCall(server.port(), 'PUT', '/routes/maintenance', {
      token: TOKEN,
      rawBody: body,
    });
    // A field the endpoint does not read is refused by its name (admin-body-fields.test.ts),
    // these two as any other, before anything of the body is used.
    const field = body.slice(2, body.indexOf('"', 2));
    assert.equal(answer.status, 400, answer.text);
    assert.equal(answer.body.field, field);
  }
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  const later = await maintenance({ route: 'web' });
  assert.equal(later.status, 400);
  assert.equal(later.body.field, 'enabled');
  for (const name of ['__proto__', 'constructor', 'toString']) {
    const answer = await adminCall(server.port(), 'POST', '/targets/drain', {
      token: TOKEN,
      body: { upstream: name, target: 'http://127.0.0.1:9' },
    });
    assert.equal(answer.status, 400, name);
    assert.equal(answer.body.detail, `upstream: no upstream named "${name}"`);
  }
});

test('a route name is matched as written: NFD for NFC, a trailing space, another case are no route', async () => {
  for (const route of ['cafe\u0301', 'web ', 'WEB']) {
    const answer = await maintenance({ route, enabled: true });
    assert.equal(answer.status, 400, JSON.stringify(route));
    assert.equal(answer.body.field, 'route');
  }
  assert.equal((await maintenance({ route: 'caf\u00e9', enabled: false })).status, 200);
});

test('changes sent together are applied one at a time, in the order taken: the last answered is in force, each on the timeline', async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      maintenance({ route: 'web', enabled: i % 2 === 0, message: `m${i}` }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
  const changes = lines.filter((l) => l.msg === 'admin change').slice(-8);
  const last = changes.at(-1)?.change as { enabled: boolean; message?: string };
  const inForce = control.changes.find((c) => c.kind === 'maintenance' && c.route === 'web');
  assert.deepEqual(
    inForce,
    last.enabled
      ? { kind: 'maintenance', route: 'web', enabled: true, message: last.message, retryAfter: 300 }
      : { kind: 'maintenance', route: 'web', enabled: false },
  );
  const { events } = await control.events();
  assert.equal(events.filter((e) => e.kind === 'admin').length >= 8, true);
});

test('a connection that pipelines requests past the bound is closed, the rest unanswered: 2,000 in one write held 2,000 answers in the primary', async () => {
  const refused = () => lines.filter((l) => l.msg === 'admin unauthorized').length;
  const before = refused();
  // What curl, the CLI and browsers never send: requests one after the other on one connection
  // without waiting for an answer. Without the token: this needs no right at all.
  const one = 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const last = 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
  const exchange = await rawRequest(server.port(), one.repeat(1999) + last, 5000);
  assert.ok(exchange.closed, 'the connection is closed');
  const answered = refused() - before;
  assert.ok(answered <= 8, `${answered} requests were answered on one connection`);
  assert.equal(
    lines.filter((l) => l.msg === 'admin connection closed: too many requests pipelined').length,
    1,
  );
  // A client that waits for each answer is never refused, however many it sends on one connection.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  for (let i = 0; i < 20; i++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port(), path: '/live', agent }, (res) => {
        sockets.add(res.socket);
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    assert.equal(status, 200, `request ${i + 1} on one connection`);
  }
  assert.equal(sockets.size, 1, 'all on one connection');
  agent.destroy();
});

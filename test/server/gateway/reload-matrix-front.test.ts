/**
 * What a reload changes at the front, field by field (docs/operations.md, "Reload": every field
 * a reload does not refuse takes effect): each test starts a real gateway with one value, reloads
 * it with another on the same kept-alive client connection, and checks that the next request
 * meets the new value.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** GETs over one kept-alive connection (the agent's single socket), so a reload meets it open. */
function keptAlive(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string, headers: http.OutgoingHttpHeaders = {}) =>
    new Promise<Answer>((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent, headers }, (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
        .on('error', reject);
    });
  const sockets = () =>
    Object.values(agent.sockets).flat().length + Object.values(agent.freeSockets).flat().length;
  return { get, sockets, close: () => agent.destroy() };
}

test('name, errors.detail and errors.pages: the next request, on a connection open across the reload, meets the new ones', async () => {
  const app = await startEcho();
  const dir = tempDir('candor-reload-pages-');
  const page = join(dir, 'problem.json');
  writeFileSync(page, '{"help_url": "https://status.example.com"}');
  const yaml = (name: string, errors: string) => `name: ${name}
${errors}
routes:
  - match: { path: /down }
    upstream: down
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
  down:
    targets: [{ url: "http://127.0.0.1:1" }]
`;
  const gw = await startTestGateway(yaml('edge-1', ''));
  const client = keptAlive(gw.url);
  try {
    const ok = await client.get('/x');
    assert.equal(ok.headers.via, '1.1 edge-1');
    const down = await client.get('/down', { accept: 'application/json' });
    assert.equal(down.status, 502);
    assert.match(
      String(down.headers['proxy-status']),
      /^edge-1; error=connection_refused; details=".*"; next-hop="down"$/,
    );
    assert.equal(JSON.parse(down.body).help_url, undefined);

    await reload(gw, yaml('edge-2', `errors: { detail: minimal, pages: { json: ${page} } }`));
    const after = await client.get('/x');
    assert.equal(client.sockets(), 1, 'one client connection throughout');
    assert.equal(after.headers.via, '1.1 edge-2', 'Via names the gateway by its new name');
    assert.equal(app.received.at(-1)?.headers.via, '1.1 edge-2', 'so does the Via the upstream gets');
    const failed = await client.get('/down', { accept: 'application/json' });
    assert.equal(failed.status, 502);
    assert.equal(
      failed.headers['proxy-status'],
      'edge-2; error=connection_refused',
      'minimal: no details, no next hop',
    );
    assert.equal(JSON.parse(failed.body).help_url, 'https://status.example.com', 'the new page is used');
    // The log lines carry the gateway's name (docs/configuration.md, `name`): the new one.
    const line = await gw.accessLine(4);
    assert.equal(line.gateway, 'edge-2', 'the access line names the gateway by its new name');
    assert.equal(gw.logs.find((l) => l.msg === 'config swapped')?.gateway, 'edge-2');
  } finally {
    client.close();
    await gw.close();
    await app.close();
  }
});

test('limits.uri_length and trust_forwarded_from: the next request on a kept-alive connection meets the new ones', async () => {
  const app = await startEcho();
  const yaml = (extra: string) => `name: edge-1
${extra}
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
`;
  const gw = await startTestGateway(yaml(''));
  const client = keptAlive(gw.url);
  const long = `/${'a'.repeat(200)}`;
  try {
    assert.equal((await client.get(long, { 'x-forwarded-for': '203.0.113.7' })).status, 200);
    assert.equal(
      app.received.at(-1)?.headers['x-forwarded-for'],
      '127.0.0.1',
      "an untrusted peer's XFF is replaced",
    );

    await reload(gw, yaml('limits: { uri_length: 100 }\ntrust_forwarded_from: [127.0.0.1]'));
    assert.equal((await client.get('/short', { 'x-forwarded-for': '203.0.113.7' })).status, 200);
    assert.equal(client.sockets(), 1, 'the same connection');
    assert.equal(
      app.received.at(-1)?.headers['x-forwarded-for'],
      '203.0.113.7, 127.0.0.1',
      'a trusted proxy now: its XFF is kept, the hop appended',
    );
    assert.equal((await client.get(long)).status, 414, 'the new uri_length refuses the long target');
  } finally {
    client.close();
    await gw.close();
    await app.close();
  }
});

test('a route kept by name: its response headers, cors, allow and compression follow the reload', async () => {
  const app = await startEcho();
  const yaml = (route: string) => `name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: app
${route}
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
`;
  const gw = await startTestGateway(yaml(''));
  const client = keptAlive(gw.url);
  const asked = { origin: 'https://app.example.com', 'accept-encoding': 'gzip' };
  try {
    const before = await client.get('/x', asked);
    assert.equal(before.status, 200);
    assert.equal(before.headers['access-control-allow-origin'], undefined);
    assert.equal(before.headers['content-encoding'], undefined);
    assert.equal(before.headers['x-route'], undefined);

    await reload(
      gw,
      yaml(`    response_headers: { set: { X-Route: v2 } }
    cors: { origins: ["https://app.example.com"] }
    compression: { encodings: [gzip], min_size: 10 }`),
    );
    const after = await client.get('/x', asked);
    assert.equal(after.status, 200);
    assert.equal(after.headers['x-route'], 'v2');
    assert.equal(after.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(after.headers['content-encoding'], 'gzip');

    await reload(gw, yaml('    allow: [10.0.0.0/8]'));
    const denied = await client.get('/x', asked);
    assert.equal(denied.status, 403, 'the new allow list judges the next request');
    assert.equal(
      denied.headers['access-control-allow-origin'],
      undefined,
      'the cors the reload removed is gone',
    );
    assert.equal(client.sockets(), 1, 'one client connection throughout');
  } finally {
    client.close();
    await gw.close();
    await app.close();
  }
});

test("a kept route's redirect, static root and timeouts follow the reload; a request in flight ends on its own", async () => {
  const app = await startEcho();
  const one = tempDir('candor-reload-root-');
  const two = tempDir('candor-reload-root-');
  writeFileSync(join(one, 'page.txt'), 'one');
  writeFileSync(join(two, 'page.txt'), 'two');
  const yaml = (location: string, root: string, response: string) => `name: edge-1
routes:
  - name: moved
    match: { path: /moved }
    redirect: { location: "${location}" }
  - name: files
    match: { path: /files }
    static: { root: ${root} }
  - name: app
    match: { path: / }
    upstream: app
    timeouts: { response: ${response} }
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
`;
  const gw = await startTestGateway(yaml('https://one.example/', one, '5s'));
  const client = keptAlive(gw.url);
  try {
    assert.equal((await client.get('/moved')).headers.location, 'https://one.example/');
    assert.equal((await client.get('/files/page.txt')).body, 'one');
    const inFlight = request(gw.url, { path: '/?delay=300' });
    while (app.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    await reload(gw, yaml('https://two.example/', two, '100ms'));
    assert.equal((await client.get('/moved')).headers.location, 'https://two.example/');
    assert.equal((await client.get('/files/page.txt')).body, 'two');
    const late = await client.get('/?delay=300');
    assert.equal(late.status, 504, "the route's new response timeout");
    assert.equal(
      (await inFlight).status,
      200,
      'the request begun before the reload keeps the 5 s it began with',
    );
  } finally {
    client.close();
    await gw.close();
    await app.close();
  }
});

/**
 * A gateway on some 2,000 routes (exact hosts, wildcard hosts nested two deep, no host; prefixes
 * three segments deep; methods, header values, `present`, patterns, a query parameter) spread over
 * a main file and 20 included files, to 120 upstreams each on its own origin: for random requests
 * the route taken is the one docs/configuration.md's precedence names (test/helpers/big-config.ts
 * writes it from the docs), and the request reaches that route's upstream; a request no route
 * claims is a 404 `destination_not_found`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';
import { type BigConfig, type BigRequest, bigConfig, expectedRoute } from '../../helpers/big-config.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const UPSTREAMS = 120;
const origins: http.Server[] = [];
const ports = new Map<string, number>();
let config: BigConfig;
let gateway: Gateway;
let port: number;

before(async () => {
  for (let i = 0; i < UPSTREAMS; i++) {
    const name = `u${i}`;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'x-upstream': name, 'x-seen-route': String(req.headers['x-route']) });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origins.push(server);
    ports.set(name, (server.address() as AddressInfo).port);
  }
  config = bigConfig({
    seed: 66,
    routes: 2000,
    upstreams: UPSTREAMS,
    includes: 20,
    target: (u) => `http://127.0.0.1:${ports.get(u)}`,
    tagRoutes: true,
  });
  const dir = tempDir('candor-big-routing-');
  mkdirSync(join(dir, 'conf.d'));
  for (const [file, text] of config.includes) writeFileSync(join(dir, 'conf.d', file), text);
  const path = join(dir, 'candor.yaml');
  const text = `name: big\nlisten:\n  - address: 127.0.0.1:0\n${config.main}`;
  writeFileSync(path, text);
  const parsed = parseConfig(text, path, {});
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  gateway = await startGateway(parsed, { logger: createLoggerOn(sink, 'warn', 'big') });
  port = gateway.listeners[0].port();
});

after(async () => {
  await gateway?.close();
  await Promise.all(origins.map((s) => new Promise((resolve) => s.close(resolve))));
});

function send(req: BigRequest): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const out = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, host: req.host },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    out.on('error', reject);
    out.end();
  });
}

test('for random requests, the route taken is the one the docs name, and its upstream answers', {
  timeout: 120_000,
}, async () => {
  const hostArb = fc.oneof(
    fc.constantFrom(...config.exactHosts),
    fc.constantFrom(...config.exactHosts).map((h) => `${h.toUpperCase()}.`),
    fc
      .tuple(fc.constantFrom('x', 'a.b', 'h1', 'z0'), fc.constantFrom(...config.wildcardDomains))
      .map(([l, d]) => `${l}.${d}`),
    fc.constantFrom(...config.wildcardDomains),
    fc.constantFrom('other.test', 'example.com'),
  );
  const pathArb = fc
    .tuple(
      fc.constantFrom(...config.prefixes),
      fc.constantFrom('', '/', '/more', 'x', '/r1/deeper'),
      fc.constantFrom('', '?debug=1', '?debug=0', '?other=1'),
    )
    .map(
      ([p, rest, q]) =>
        `${p === '/' && rest.startsWith('/') ? '' : p}${p === '/' && rest === 'x' ? '' : rest}${q}` || '/',
    );
  const requestArb = fc.record({
    host: hostArb,
    path: pathArb,
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'),
    xv: fc.constantFrom(undefined, '2', '3'),
    xt: fc.constantFrom(undefined, 't12', 'tx'),
    xr: fc.constantFrom(undefined, 'a', 'b', 'ab'),
  });
  await fc.assert(
    fc.asyncProperty(requestArb, async ({ host, path, method, xv, xt, xr }) => {
      const headers: Record<string, string> = {};
      if (xv !== undefined) headers['x-v'] = xv;
      if (xt !== undefined) headers['x-t'] = xt;
      if (xr !== undefined) headers['x-r'] = xr;
      const req: BigRequest = { host, path, method, headers };
      const expected = expectedRoute(config.routes, req);
      const got = await send(req);
      const what = `${method} ${host}${path} ${JSON.stringify(headers)}`;
      if (expected === undefined) {
        assert.equal(got.status, 404, what);
        assert.match(String(got.headers['proxy-status']), /error=destination_not_found/, what);
        return;
      }
      assert.equal(got.status, 200, `${what}: expected ${expected.name}`);
      assert.equal(got.headers['x-seen-route'], expected.name, what);
      assert.equal(got.headers['x-upstream'], expected.upstream, what);
    }),
    { numRuns: 600 },
  );
});

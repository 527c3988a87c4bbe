/**
 * The gateway's own decisions in DESIGN.md's failure table (and the failures of the hops it asks
 * on a request's behalf: DNS, a pool, an auth service, a plugin's service), each held to the
 * whole contract at once (assertGatewayError): the exact status and Proxy-Status (error, details,
 * next hop or none), Cache-Control: no-store, the request id in the header and the body,
 * Retry-After exactly where the table says, and the negotiated body (each row in one of the three
 * forms, over HTTP/1.1 and over HTTP/2). The upstream's failures are held to it in
 * test/core/failure/failure-table*.sockets.test.ts; these are the rows whose own tests check only
 * a part of it.
 */

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../src/proxy/stages/plugin-api.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { assertGatewayError, type ExpectedError, onlyLogLine } from '../helpers/gateway-error.ts';
import { h2Get, request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

const ACCEPT = {
  'problem+json': 'application/json',
  html: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
  text: '*/*',
} as const;
const FORMATS = ['problem+json', 'html', 'text'] as const;

/** A request held at the gateway (its upstream never answers) until `release`. */
function hold(url: string, path: string): { release(): void } {
  const req = http.request(new URL(path, url), { agent: false });
  req.on('error', () => {});
  req.end();
  return { release: () => req.destroy() };
}

/** One user (basic-auth.test.ts's carol); the row sends no credentials. */
const USERS = 'carol:$5$rounds=1000$saltsalt$R6e4P8ccT9iMqkYg7Z8YtpId/lfsIfnuPkp8WXposU8\n';

interface Row {
  readonly name: string;
  readonly path: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly expected: Omit<ExpectedError, 'format'>;
  /** Set the row's scene up; returns what undoes it. */
  readonly setUp?: () => Promise<() => void>;
  /** What Proxy-Status must match besides the contract's members (an rcode). */
  readonly proxyStatus?: RegExp;
  /** Fields the answer must carry besides the contract's. */
  readonly fields?: Record<string, string>;
  /** What the body's advice to the client says, in every form. */
  readonly advice?: string;
}

describe("the gateway's own rows of the failure table, the whole contract each", () => {
  let app: Fault;
  let held: Fault;
  let refusing: Fault;
  let queued: Fault;
  let mute: Fault;
  let dns: DnsServer;
  let gw: TestGateway;
  let perClient: TestGateway;
  const thrower: Plugin = () => ({
    onRequest() {
      throw new Error('a bug in the plugin');
    },
  });
  /** Asks its service (`options.upstream`) before the request goes on; a failed call is that hop's failure. */
  const asker: Plugin<{ upstream: string }> = (options, context) => ({
    async onRequest(request) {
      await context.fetch(options.upstream, '/verdict', { request });
    },
  });

  before(async () => {
    [app, held, refusing, queued, mute, dns] = await Promise.all([
      startEcho(),
      startBlackhole(),
      startRefusing(),
      startBlackhole(),
      startBlackhole(),
      startDnsServer(),
    ]);
    dns.set('fails.test', 'servfail');
    dns.set('silent.test', 'silent');
    const discovered = (name: string, connect: string) =>
      `{ discovery: { dns: ${name}, port: ${app.port}, resolvers: ["${dns.address}"], interval: 200ms }, timeouts: { connect: ${connect} } }`;
    const users = join(tempDir('candor-table-'), 'users');
    writeFileSync(users, USERS);
    gw = await startTestGateway(
      `name: edge-1
plugins:
  thrower: { module: /nonexistent/thrower.ts }
  asks-down: { module: /nonexistent/asker.ts, options: { upstream: service_down } }
  asks-slow: { module: /nonexistent/asker.ts, options: { upstream: service_slow }, timeout: 5s }
routes:
  - { name: shed, match: { path: /shed }, upstream: held, max_in_flight: 1 }
  - { name: down, match: { path: /down }, upstream: app, maintenance: { retry_after: 2m } }
  - { name: limited, match: { path: /limited }, upstream: app, rate_limit: { rate: 0.001, burst: 1, key: "header:X-Key" } }
  - { name: denied, match: { path: /denied }, upstream: app, deny: [127.0.0.0/8] }
  - { name: basic, match: { path: /basic }, upstream: app, auth: { basic: { users_file: ${users}, realm: Staff } } }
  - { name: hop, match: { path: /hop }, upstream: app, auth: { forward: { url: "${refusing.url}/check" } } }
  - { name: plugin, match: { path: /plugin }, upstream: app, plugins: [thrower] }
  - { name: open, match: { path: /open }, upstream: app }
  - { name: queued, match: { path: /queued }, upstream: queued }
  - { name: fails, match: { path: /fails }, upstream: fails }
  - { name: silent, match: { path: /silent }, upstream: silent }
  - { name: sick, match: { path: /sick }, upstream: sick }
  - { name: asks-down, match: { path: /asks-down }, upstream: app, plugins: [asks-down] }
  - { name: asks-slow, match: { path: /asks-slow }, upstream: app, plugins: [asks-slow] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
  held: { targets: [{ url: ${held.url} }], timeouts: { response: 30s } }
  queued:
    targets: [{ url: ${queued.url} }]
    pool: { max_connections: 1, queue_timeout: 200ms }
    timeouts: { response: 30s }
  fails: ${discovered('fails.test', '5s')}
  silent: ${discovered('silent.test', '300ms')}
  sick:
    targets: [{ url: ${refusing.url} }]
    health_check: { interval: 50ms, timeout: 1s, rise: 2, fall: 2 }
    panic_threshold: 0
  service_down: { targets: [{ url: ${refusing.url} }], retries: { attempts: 1 } }
  service_slow: { targets: [{ url: ${mute.url} }], timeouts: { response: 300ms }, retries: { attempts: 1 } }
`,
      {},
      'http2: true',
      { plugins: { thrower, 'asks-down': asker, 'asks-slow': asker } },
    );
    perClient = await startTestGateway(
      `name: edge-1
limits:
  per_client:
    requests: 1
routes:
  - { match: { path: / }, upstream: held }
upstreams:
  held: { targets: [{ url: ${held.url} }], timeouts: { response: 30s } }
`,
    );
  });
  after(() => closeAll(gw, perClient, app, held, refusing, queued, mute, dns));
  const discoveryFailure = (name: string) => gw.gateway.status().upstreams[name]?.discovery?.failure;

  const rows = (): Row[] => [
    {
      name: 'load shed (route max_in_flight): 503 proxy_internal_response with Retry-After',
      path: '/shed',
      setUp: async () => {
        const before = held.connections;
        const first = hold(gw.url, '/shed');
        await held.waitForConnection(before + 1);
        return first.release;
      },
      expected: {
        status: 503,
        error: 'proxy_internal_response',
        details: /^load shed/,
        nextHop: 'held',
        retryAfter: '1',
      },
    },
    {
      name: 'maintenance: 503 proxy_internal_response with its Retry-After',
      path: '/down',
      expected: { status: 503, error: 'proxy_internal_response', nextHop: 'app', retryAfter: '120' },
    },
    {
      name: 'a client over its rate: 429 http_request_denied with Retry-After',
      path: '/limited',
      headers: { 'x-key': 'k' },
      setUp: async () => {
        await request(gw.url, { path: '/limited', headers: { 'x-key': 'k' } });
        return () => {};
      },
      expected: { status: 429, error: 'http_request_denied', nextHop: 'app', retryAfter: '1000' },
    },
    {
      name: 'every target failing its health checks: 503 destination_unavailable with Retry-After',
      path: '/sick',
      setUp: async () => {
        const sick = () => gw.gateway.runtime().upstreams.get('sick')?.targets[0];
        await waitUntil('the target down', () => sick()?.checkedHealthy === false);
        return () => {};
      },
      expected: { status: 503, error: 'destination_unavailable', nextHop: 'sick', retryAfter: '1' },
    },
    {
      name: "the pool's queue wait expired: 503 connection_limit_reached with Retry-After",
      path: '/queued',
      setUp: async () => {
        const before = queued.received.length;
        const first = hold(gw.url, '/queued');
        await queued.waitForRequest(before + 1);
        return first.release;
      },
      expected: { status: 503, error: 'connection_limit_reached', nextHop: 'queued', retryAfter: '1' },
    },
    {
      name: 'a DNS lookup failed (SERVFAIL): 502 dns_error with its rcode, no Retry-After',
      path: '/fails',
      setUp: async () => {
        await waitUntil('the SERVFAIL in', () => typeof discoveryFailure('fails') === 'string');
        return () => {};
      },
      proxyStatus: /; rcode="SERVFAIL";/,
      expected: { status: 502, error: 'dns_error', nextHop: 'fails', retryAfter: null },
    },
    {
      name: 'a DNS lookup out longer than timeouts.connect: 504 dns_timeout, no Retry-After',
      path: '/silent',
      setUp: async () => {
        // Until timeouts.connect has passed since the first question the answer is a 503 wait.
        await new Promise((resolve) => setTimeout(resolve, 400));
        return () => {};
      },
      expected: { status: 504, error: 'dns_timeout', nextHop: 'silent', retryAfter: null },
    },
    {
      name: 'no route: 404 destination_not_found, no next hop, no Retry-After',
      path: '/nowhere',
      expected: { status: 404, error: 'destination_not_found', nextHop: null, retryAfter: null },
    },
    {
      name: 'our own name in Via: 502 proxy_loop_detected, nothing forwarded, no Retry-After',
      path: '/open',
      headers: { via: '1.1 cdn, 1.1 edge-1' },
      // Refused as it arrives, before any route names an upstream.
      expected: { status: 502, error: 'proxy_loop_detected', nextHop: null, retryAfter: null },
      // Not the upstream's to fix: it was never asked.
      advice:
        'Retrying will not help until the configuration is fixed: the request came back to this gateway',
    },
    {
      name: 'our own name in Via in capitals (a host is case-insensitive): 502 proxy_loop_detected too',
      path: '/open',
      headers: { via: '1.1 cdn, 1.1 EDGE-1' },
      expected: { status: 502, error: 'proxy_loop_detected', nextHop: null, retryAfter: null },
    },
    {
      name: "the client's address denied: 403 http_request_denied, no next hop, no Retry-After",
      path: '/denied',
      expected: { status: 403, error: 'http_request_denied', nextHop: null, retryAfter: null },
      advice: 'rules do not let this request through',
    },
    {
      name: 'no credentials: 401 with WWW-Authenticate, no Retry-After',
      path: '/basic',
      fields: { 'www-authenticate': 'Basic realm="Staff", charset="UTF-8"' },
      expected: { status: 401, error: 'http_request_denied', nextHop: null, retryAfter: null },
    },
    {
      name: 'the auth hop refused: 502 connection_refused naming auth:forward',
      path: '/hop',
      expected: { status: 502, error: 'connection_refused', nextHop: 'auth:forward', retryAfter: null },
    },
    {
      name: 'a plugin that throws: 500 proxy_internal_error naming the plugin and hook',
      path: '/plugin',
      expected: {
        status: 500,
        error: 'proxy_internal_error',
        details: /^plugin:thrower threw in onRequest$/,
        nextHop: 'app',
        retryAfter: null,
      },
    },
    {
      name: 'a service a plugin calls refused: 502 connection_refused naming that service',
      path: '/asks-down',
      expected: { status: 502, error: 'connection_refused', nextHop: 'service_down', retryAfter: null },
    },
    {
      name: 'a service a plugin calls never answered: 504 http_response_timeout naming that service',
      path: '/asks-slow',
      expected: { status: 504, error: 'http_response_timeout', nextHop: 'service_slow', retryAfter: null },
    },
  ];

  const received = () => app.received.length;
  for (const [i, row] of rows().entries()) {
    // Each row in one form over HTTP/1.1 (the first in all three), and in the next form over HTTP/2.
    const runs = [
      ...(i === 0 ? FORMATS : [FORMATS[i % FORMATS.length]]).map((format) => ({ format, h2: false })),
      { format: FORMATS[(i + 1) % FORMATS.length], h2: true },
    ];
    for (const { format, h2 } of runs) {
      test(`${row.name} (${h2 ? 'HTTP/2, ' : ''}${format})`, async () => {
        const undo = (await row.setUp?.()) ?? (() => {});
        const before = received();
        try {
          const headers = { ...row.headers, accept: ACCEPT[format] };
          const res = h2
            ? await h2Get(gw.url, row.path, headers)
            : await request(gw.url, { path: row.path, headers });
          const id = assertGatewayError(res, { ...row.expected, format });
          if (row.proxyStatus) assert.match(String(res.headers['proxy-status']), row.proxyStatus);
          if (row.advice) assert.ok(res.text.includes(row.advice), res.text);
          for (const [name, value] of Object.entries(row.fields ?? {}))
            assert.equal(res.headers[name], value, name);
          const line = await onlyLogLine(gw, id);
          assert.equal(line.status, row.expected.status);
          assert.equal(received(), before, 'nothing reached the app');
        } finally {
          undo();
        }
      });
    }
  }

  test('per-client concurrency past limits.per_client.requests: 429 http_request_denied with Retry-After', async () => {
    const before = held.connections;
    const first = hold(perClient.url, '/one');
    try {
      await held.waitForConnection(before + 1);
      const res = await request(perClient.url, { path: '/two', headers: { accept: ACCEPT.html } });
      const id = assertGatewayError(res, {
        status: 429,
        error: 'http_request_denied',
        details: /holds 1 request/,
        nextHop: null,
        retryAfter: '1',
        format: 'html',
      });
      assert.equal((await onlyLogLine(perClient, id)).status, 429);
    } finally {
      first.release();
    }
  });

  test('per-client connections past limits.per_client.connections: 429 http_request_denied with Retry-After', async () => {
    const perConnection = await startTestGateway(
      `name: edge-1
limits:
  per_client:
    connections: 1
routes:
  - { match: { path: / }, upstream: held }
upstreams:
  held: { targets: [{ url: ${held.url} }], timeouts: { response: 30s } }
`,
    );
    const before = held.connections;
    const first = hold(perConnection.url, '/one');
    try {
      await held.waitForConnection(before + 1);
      const res = await request(perConnection.url, {
        path: '/two',
        headers: { accept: ACCEPT['problem+json'] },
      });
      const id = assertGatewayError(res, {
        status: 429,
        error: 'http_request_denied',
        details: /holds 1 connection/,
        nextHop: null,
        retryAfter: '1',
        format: 'problem+json',
      });
      assert.equal((await onlyLogLine(perConnection, id)).status, 429);
    } finally {
      first.release();
      await perConnection.close();
    }
  });
});

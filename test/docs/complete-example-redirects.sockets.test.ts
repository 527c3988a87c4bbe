/**
 * The complete example's redirects work (issue 31, item 6): a gateway runs docs/examples/
 * complete.yaml as it is, but for its listen addresses (127.0.0.1, ports the system picks),
 * its upstreams (one echo server stands for each) and what reaches beyond the machine (metrics,
 * admin, tracing, Redis, the ACME CA, the auth services, the cache's directory). curl follows `http-to-https` and `admin-tls` from plain HTTP to the
 * TLS listener and gets the upstream's answer in one hop; asked over HTTPS at once, it gets
 * it with none (both looped on the TLS listener before: "Maximum (5) redirects followed").
 * Skipped where curl is missing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/core/config/load.ts';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../src/server/gateway/gateway.ts';
import { hasTool, runTool } from '../helpers/cli-tools.ts';

const EXAMPLE = join(import.meta.dirname, '../../docs/examples/complete.yaml');
const noCurl = !hasTool('curl') && 'curl missing';

/** The example, runnable on this machine alone. */
function runnableExample(upstreamUrl: string): string {
  const document = parse(readFileSync(EXAMPLE, 'utf8'));
  for (const listener of document.listen) listener.address = '127.0.0.1:0';
  for (const name of Object.keys(document.upstreams))
    document.upstreams[name] = { targets: [{ url: upstreamUrl }] };
  for (const field of ['metrics', 'admin', 'tracing', 'store', 'log', 'acme']) delete document[field];
  // No CA to order from, no auth service, no shared cache directory: what the redirects need only.
  for (const listener of document.listen) delete listener.tls?.acme;
  for (const route of document.routes) for (const field of ['auth', 'cache']) delete route[field];
  return stringify(document);
}

interface Followed {
  readonly status: number;
  readonly redirects: number;
  readonly url: string;
  readonly stderr: string;
}

describe('the complete example, followed by curl', { skip: noCurl }, () => {
  let app: Fault;
  let gateway: Gateway;
  let plain: number;
  let secure: number;

  /** curl -L from `url`, each host:port of the example sent to the listener that serves it. */
  async function follow(url: string, routes: Record<string, number>): Promise<Followed> {
    const connectTo = Object.entries(routes).flatMap(([from, port]) => [
      '--connect-to',
      `${from}:127.0.0.1:${port}`,
    ]);
    const run = await runTool('curl', [
      '-sS',
      '-k',
      '-L',
      '--max-redirs',
      '5',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{num_redirects} %{url_effective}',
      ...connectTo,
      url,
    ]);
    const [status, redirects, effective] = run.stdout.split(' ');
    return { status: Number(status), redirects: Number(redirects), url: effective, stderr: run.stderr };
  }

  before(async () => {
    app = await startEcho();
    gateway = await startGateway(parseConfig(runnableExample(app.url), EXAMPLE, {}), {
      logger: createLoggerOn({ write: () => true }, 'silent', 'edge-1'),
    });
    plain = gateway.listeners[0].port();
    secure = gateway.listeners[1].port();
  });
  after(async () => {
    await gateway?.close();
    await app?.close();
  });

  test('http-to-https: plain HTTP moves to HTTPS once, and HTTPS is served', async () => {
    const routes = { 'www.example.com:80': plain, 'www.example.com:443': secure };
    assert.deepEqual(await follow('http://www.example.com/a?b=1', routes), {
      status: 200,
      redirects: 1,
      url: 'https://www.example.com/a?b=1',
      stderr: '',
    });
    const reached = app.received.at(-1);
    assert.equal(reached?.path, '/a?b=1');
    assert.equal(reached?.headers.host, 'www.example.com');
    assert.equal(reached?.headers['x-forwarded-proto'], 'https');
    assert.deepEqual(await follow('https://www.example.com/a', routes), {
      status: 200,
      redirects: 0,
      url: 'https://www.example.com/a',
      stderr: '',
    });
  });

  test('admin-tls: plain HTTP moves to port 8443 once, and that port is served', async () => {
    const routes = { 'admin.example.com:80': plain, 'admin.example.com:8443': secure };
    assert.deepEqual(await follow('http://admin.example.com/a', routes), {
      status: 200,
      redirects: 1,
      url: 'https://admin.example.com:8443/a',
      stderr: '',
    });
    assert.equal(app.received.at(-1)?.headers.host, 'admin.example.com:8443');
    assert.deepEqual(await follow('https://admin.example.com:8443/a', routes), {
      status: 200,
      redirects: 0,
      url: 'https://admin.example.com:8443/a',
      stderr: '',
    });
  });
});

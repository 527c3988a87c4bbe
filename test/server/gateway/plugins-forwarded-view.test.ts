/**
 * What a plugin reads in `request.headers` of the fields in which a proxy speaks of the client
 * (X-Forwarded-For, -Proto, -Host, Forwarded, X-Real-IP and kin): what goes upstream
 * (docs/plugins.md), so from a client not in `trust_forwarded_from` never its own copies, which
 * the gateway drops or replaces. A plugin that took the client behind a proxy from
 * X-Forwarded-For (as the API's types point it to) read any client's forged address there: an
 * allow list, a per-client count or a log of its own, fooled by one field the upstream never got.
 * From a trusted proxy, its fields as it sent them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const NAMES = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-real-ip',
  'x-forwarded-port',
];

/** Says what it read of NAMES (null: not there), on a request for /read; lets the others go upstream. */
const reader: Plugin = () => ({
  onRequest(r) {
    if (r.path !== '/read') return;
    const read = Object.fromEntries(NAMES.map((name) => [name, r.headers.get(name)]));
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(read) };
  },
});

const forged = {
  'X-Forwarded-For': '6.6.6.6',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'admin.example',
  Forwarded: 'for=6.6.6.6;proto=https',
  'X-Real-IP': '6.6.6.6',
  'X-Forwarded-Port': '443',
};

async function readThrough(trust: string) {
  const app = await startEcho();
  const gw = await startTestGateway(
    `${trust}plugins:
  reader: { module: /nonexistent/reader.ts }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [reader] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { reader } },
  );
  try {
    const read = await request(gw.url, { path: '/read', headers: forged });
    assert.equal(read.status, 200, read.text);
    const sent = await request(gw.url, { path: '/up', headers: forged });
    assert.equal(sent.status, 200, sent.text);
    const upstream = JSON.parse(sent.text).headers as Record<string, string | undefined>;
    return { read: JSON.parse(read.text) as Record<string, string | null>, upstream };
  } finally {
    await gw.close();
    await app.close();
  }
}

test("a client not in trust_forwarded_from: none of its own forwarding fields in the plugin's view, as none reaches the upstream", async () => {
  const { read, upstream } = await readThrough('');
  assert.deepEqual(read, Object.fromEntries(NAMES.map((name) => [name, null])));
  // What the upstream got of them: the gateway's own word, never the client's.
  assert.equal(upstream['x-forwarded-for'], '127.0.0.1');
  assert.equal(upstream['x-real-ip'], undefined);
  assert.equal(upstream['x-forwarded-port'], undefined);
});

test('a proxy in trust_forwarded_from: its fields as it sent them, the client it vouches for in X-Forwarded-For', async () => {
  const { read, upstream } = await readThrough('trust_forwarded_from: [127.0.0.1]\n');
  assert.equal(read['x-forwarded-for'], '6.6.6.6');
  assert.equal(read['x-real-ip'], '6.6.6.6');
  assert.equal(read['x-forwarded-port'], '443');
  assert.equal(read.forwarded, 'for=6.6.6.6;proto=https');
  assert.equal(upstream['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
  assert.equal(upstream['x-real-ip'], '6.6.6.6');
});

/**
 * A span's attribute values are kept to 1024 characters: a span holds the client's User-Agent
 * and path (the client span its URL too), and 2048 spans wait for a collector that stalls, so
 * with a 32 KiB request head (or `limits.header_size` up to 1 MiB) a client's long fields could hold
 * about 100 MiB (3 GiB) until the export: a bound in spans was none in bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

test("a client's long User-Agent and path reach the spans cut to 1024 characters; short ones whole", async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint));
  const path = `/items/${'p'.repeat(8000)}`;
  try {
    const long = await request(gw.url, { path, headers: { 'user-agent': 'u'.repeat(8000) } });
    assert.equal(long.status, 200);
    // The upstream got them whole: only the spans are cut.
    assert.equal(echo.received[0]?.path, path);
    assert.equal(echo.received[0]?.headers['user-agent'], 'u'.repeat(8000));
    assert.equal(
      (await request(gw.url, { path: '/items/1', headers: { 'user-agent': 'curl/8' } })).status,
      200,
    );
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const servers = collector.spans.filter((s) => s.kind === KIND.server);
  const clients = collector.spans.filter((s) => s.kind === KIND.client);
  assert.equal(servers.length, 2);
  assert.equal(servers[0].attributes['user_agent.original'], 'u'.repeat(1024));
  assert.equal(servers[0].attributes['url.path'], path.slice(0, 1024));
  assert.equal(String(clients[0].attributes['url.full']).length, 1024);
  assert.equal(servers[1].attributes['user_agent.original'], 'curl/8');
  assert.equal(servers[1].attributes['url.path'], '/items/1');
  assert.equal(clients[1].attributes['url.full'], `${echo.url}/items/1`);
});

/**
 * Behind a load balancer the gateway trusts (`trust_forwarded_from`), a server span's
 * `client.address` is the client that balancer vouches for, and `network.peer.address` the
 * balancer itself, as the HTTP conventions tell them apart ("client.address SHOULD represent
 * the client address behind any intermediaries"); an untrusted peer's X-Forwarded-For is not read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

for (const trusted of [true, false]) {
  test(`a ${trusted ? 'trusted' : 'untrusted'} peer's X-Forwarded-For: the server span's client.address`, async () => {
    const collector = await startCollector();
    const echo = await startEcho();
    const yaml = gatewayYaml([echo.url], collector.endpoint);
    const gw = await startTestGateway(
      trusted ? yaml : yaml.replace('trust_forwarded_from: [127.0.0.1]\n', ''),
    );
    try {
      const res = await request(gw.url, { path: '/items', headers: { 'x-forwarded-for': '203.0.113.7' } });
      assert.equal(res.status, 200);
      await gw.accessLine(1);
    } finally {
      await gw.close();
      await echo.close();
      await collector.close();
    }
    const server = collector.spans.find((s) => s.kind === KIND.server);
    assert.ok(server);
    assert.deepEqual(
      [server.attributes['client.address'], server.attributes['network.peer.address']],
      [trusted ? '203.0.113.7' : '127.0.0.1', '127.0.0.1'],
    );
  });
}

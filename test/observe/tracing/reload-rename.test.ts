/**
 * A reload that renames the gateway, with tracing on: the spans' `service.name` is the gateway's
 * `name` unless `tracing.service_name` is written, and the exporter is made at start. Such a
 * rename was refused as a change to `tracing`, at the tracing section's line, though that
 * section was never touched: the refusal now names `name`, where it is written, and what to do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, startCollector } from './collector.ts';

const withListen = (yaml: string) => parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {});

test('renaming the gateway whose spans take its name is refused at `name`, not as a change to `tracing`', async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const yaml = gatewayYaml([echo.url], collector.endpoint);
  const gw = await startTestGateway(yaml);
  try {
    const hash = gw.gateway.configHash();
    await assert.rejects(
      gw.gateway.reload(withListen(yaml.replace('name: edge-1', 'name: edge-2'))),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map(({ path, line, column }) => ({ path, line, column })),
          // `name:` is the file's third line, after the listener's two.
          [{ path: 'name', line: 3, column: 1 }],
        );
        assert.match(
          err.problems[0].message,
          /^cannot change on a reload while `tracing\.service_name` is not written \(edge-1 → edge-2\): the spans' `service\.name` is the gateway's name.*write `tracing\.service_name: edge-1`.*or restart/,
        );
        return true;
      },
    );
    assert.equal(gw.gateway.configHash(), hash);
    assert.equal((await request(gw.url, { path: '/items/1' })).status, 200);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
});

test('with `tracing.service_name` written, the gateway may be renamed on a reload; its spans keep the service name', async () => {
  const collector = await startCollector();
  const echo = await startEcho();
  const yaml = gatewayYaml([echo.url], collector.endpoint, '  service_name: edge\n');
  const gw = await startTestGateway(yaml);
  try {
    await gw.gateway.reload(withListen(yaml.replace('name: edge-1', 'name: edge-2')));
    const res = await request(gw.url, { path: '/items/1', headers: { 'x-request-id': 'renamed-1' } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers.via), /edge-2/);
  } finally {
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const server = collector.spans.find((span) => span.attributes['candor.request_id'] === 'renamed-1');
  assert.equal(server?.resource['service.name'], 'edge');
});

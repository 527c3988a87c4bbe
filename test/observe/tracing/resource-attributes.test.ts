/**
 * What a span says of the process that made it (its OTLP resource): every OpenTelemetry SDK reads
 * OTEL_RESOURCE_ATTRIBUTES (a deployment's environment, a pod's name), and each process gets an
 * instance id of its own, so that a collector can tell two gateways, or two workers, apart. The
 * service stays the one the config names.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { gatewayYaml, KIND, startCollector } from './collector.ts';

const before = process.env.OTEL_RESOURCE_ATTRIBUTES;
after(() => {
  if (before === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  else process.env.OTEL_RESOURCE_ATTRIBUTES = before;
});

/** The resource of the server span of one request through a gateway started with `env` in OTEL_RESOURCE_ATTRIBUTES. */
async function resourceWith(env: string | undefined, tracing = '') {
  if (env === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
  else process.env.OTEL_RESOURCE_ATTRIBUTES = env;
  const collector = await startCollector();
  const echo = await startEcho();
  const gw = await startTestGateway(gatewayYaml([echo.url], collector.endpoint, tracing));
  try {
    assert.equal((await request(gw.url, { path: '/items/1' })).status, 200);
  } finally {
    // Closing the gateway flushes its spans to the collector.
    await gw.close();
    await echo.close();
    await collector.close();
  }
  const server = collector.spans.find((s) => s.kind === KIND.server);
  assert.ok(server);
  return server.resource;
}

test('OTEL_RESOURCE_ATTRIBUTES goes on every span; the config still names the service', async () => {
  const resource = await resourceWith(
    'deployment.environment.name=staging,k8s.pod.name=edge-7,service.instance.id=pod-7,service.name=other',
    '  service_name: edge-traces\n',
  );
  assert.equal(resource['deployment.environment.name'], 'staging');
  assert.equal(resource['k8s.pod.name'], 'edge-7');
  // The environment's instance id is the deployment's word for this instance.
  assert.equal(resource['service.instance.id'], 'pod-7');
  assert.equal(resource['service.name'], 'edge-traces');
});

test('without it, each gateway process has an instance id of its own, its host and its pid', async () => {
  const first = await resourceWith(undefined);
  const second = await resourceWith(undefined);
  assert.match(
    String(first['service.instance.id']),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(first['host.name'], hostname());
  assert.equal(first['process.pid'], process.pid);
  assert.equal(first['service.name'], 'edge-1');
  // Two gateways in one process (a program's, or a reload's new SDK) are two instances too.
  assert.notEqual(first['service.instance.id'], second['service.instance.id']);
});

/**
 * deploy/kubernetes-fleet.yaml and deploy/candor-fleet.yaml: several gateways sharing their rate
 * limits in the Redis of the same file and finding the app's pods through its headless Service.
 * The manifests are read as data and held to the config: names, ports, Secrets, probe paths.
 * No cluster runs here; the behaviour is tested in test/cluster/gateways-redis.test.ts and
 * test/cluster/discovery-once.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfigFile } from '../../src/core/config/load.ts';
import { probeAt } from '../../src/server/gateway/probes.ts';

const DEPLOY = join(import.meta.dirname, '../../deploy');
const CONFIG_FILE = join(DEPLOY, 'candor-fleet.yaml');
const ENV = { CANDOR_ADMIN_TOKEN: 'fleet-test-token-0123456789', REDIS_PASSWORD: 'fleet-test-redis' };
const config = await loadConfigFile(CONFIG_FILE, ENV);

// biome-ignore lint/suspicious/noExplicitAny: the manifests are read as plain YAML data
type Manifest = any;
const manifests: Manifest[] = parseAllDocuments(
  readFileSync(join(DEPLOY, 'kubernetes-fleet.yaml'), 'utf8'),
).map((doc) => {
  assert.deepEqual(doc.errors, [], 'kubernetes-fleet.yaml parses');
  return doc.toJS();
});
const named = (kind: string, name: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `a ${kind} named ${name}`);
  return found;
};
const gateways = named('Deployment', 'candor-fleet');
const pod = gateways.spec.template.spec;
const container = pod.containers[0];
const envFrom = (c: Manifest, name: string) => c.env.find((e: Manifest) => e.name === name);

test('the ConfigMap holds deploy/candor-fleet.yaml as it is, mounted where --config reads it', () => {
  const configMap = named('ConfigMap', 'candor-fleet-config');
  assert.equal(configMap.data['candor.yaml'], readFileSync(CONFIG_FILE, 'utf8'));
  assert.equal(pod.volumes.find((v: Manifest) => v.configMap)?.configMap.name, 'candor-fleet-config');
  assert.deepEqual(container.command.slice(0, 4), ['candor', 'serve', '--config', '/etc/candor/candor.yaml']);
});

test('several replicas behind an L4 balancer, probed on the config probe paths', () => {
  assert.ok(gateways.spec.replicas >= 2);
  const service = named('Service', 'candor-fleet');
  assert.equal(service.spec.type, 'LoadBalancer');
  assert.deepEqual(service.spec.selector, gateways.spec.template.metadata.labels);
  assert.equal(container.ports[0].containerPort, config.listen[0].port);
  const prefix = config.admin?.probesPath ?? '';
  assert.equal(probeAt(prefix, container.readinessProbe.httpGet.path), 'ready');
  assert.equal(probeAt(prefix, container.livenessProbe.httpGet.path), 'live');
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > config.drain.timeout);
});

test('store.redis names the Redis Service of the file, with the password from the Secret both use', () => {
  const url = new URL(config.store?.redis.url ?? '');
  const redisService = named('Service', url.hostname);
  assert.equal(String(redisService.spec.ports[0].port), url.port);
  const redis = named('Deployment', 'candor-redis');
  assert.deepEqual(redisService.spec.selector, redis.spec.template.metadata.labels);
  assert.equal(url.password, ENV.REDIS_PASSWORD);
  const secret = (c: Manifest) => envFrom(c, 'REDIS_PASSWORD').valueFrom.secretKeyRef;
  assert.deepEqual(secret(container), secret(redis.spec.template.spec.containers[0]));
  assert.ok(redis.spec.template.spec.containers[0].args.includes('$(REDIS_PASSWORD)'));
  assert.ok(!manifests.some((m) => m.kind === 'Secret'), 'no Secret (with a password) in the file');
});

test('discovery asks for the headless Service of the file, on its port', () => {
  const discovery = config.upstreams.app.discovery;
  assert.ok(discovery);
  const [service, namespace, rest] = discovery.dns.split(/\.(?=[^.]+\.svc)|\.(?=svc\.)/);
  assert.equal(rest, 'svc.cluster.local');
  assert.equal(namespace, 'default');
  const headless = named('Service', service);
  assert.equal(headless.spec.clusterIP, 'None');
  assert.equal(headless.spec.ports[0].port, discovery.port);
  assert.equal(discovery.type, 'A');
});

test('candor check accepts deploy/candor-fleet.yaml with the token and the Redis password, and refuses it without the password', async () => {
  const bin = join(import.meta.dirname, '../../bin/candor.js');
  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'check', 'deploy/candor-fleet.yaml'], {
        cwd: join(import.meta.dirname, '../..'),
        env: { PATH: process.env.PATH ?? '', ...env },
      });
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
      });
      child.stderr.on('data', (c) => {
        out += c;
      });
      child.on('close', (code) => resolve({ code, out }));
    });
  const ok = await run(ENV);
  assert.equal(ok.code, 0, ok.out);
  const refused = await run({ CANDOR_ADMIN_TOKEN: ENV.CANDOR_ADMIN_TOKEN });
  assert.equal(refused.code, 78);
  assert.match(refused.out, /REDIS_PASSWORD/);
});

// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ETCD_PASSWORD} is the bootstrap's syntax under test.
/**
 * A fleet gateway whose etcd user's password is wrong: etcd answers and refuses it. Started on
 * its last good config, it says so as a refusal (`GET /status`: "etcd refuses this gateway since
 * …", etcd's words), never as etcd being away: `unreachable_since` null, the unreachable gauge 0
 * (docs/fleet.md: "a wrong password is refused at once, … never taken for etcd being away").
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
  documentTo,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-auth-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one']);
  // etcdctl is not in Debian's etcd-server: its calls through the JSON gateway.
  const call = async (path: string, body: unknown) => {
    const answer = await fetch(`${etcd.endpoint}/v3/auth/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    assert.equal(answer.status, 200, `${path}: ${await answer.clone().text()}`);
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await call('user/add', { name: 'root', password: 'root-secret' });
  await call('user/grant', { user: 'root', role: 'root' });
  await call('user/add', { name: 'candor', password: 'candor-secret' });
  await call('role/add', { name: 'fleet' });
  await call('role/grant', {
    name: 'fleet',
    perm: { permType: 'READWRITE', key: b64('/candor/config'), range_end: b64('/candor/confih') },
  });
  await call('user/grant', { user: 'candor', role: 'fleet' });
  await call('enable', {});
  gateway = await fleetBootstrap(dir, 'edge-auth', [etcd.endpoint]);
  const text = readFileSync(gateway.bootstrap, 'utf8').replace(
    '    key: /candor/config\n',
    '    key: /candor/config\n    username: candor\n    password: ${ETCD_PASSWORD}\n',
  );
  writeFileSync(gateway.bootstrap, text);
});
after(async () => {
  await gateway?.serve?.stop();
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

test('a wrong password is said as etcd refusing the gateway, not as etcd unreachable', async () => {
  const file = join(dir, 'one.yaml');
  writeFileSync(file, documentTo(origins.url.one));
  const right = { ETCD_PASSWORD: 'candor-secret' };
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap], right);
  assert.equal(pushed.code, 0, pushed.stderr);
  // A first start with the right password keeps a last good config.
  gateway.serve = await startServe(gateway.bootstrap, 1, { admin: true, env: right });
  for (let tries = 0; tries < 200 && !existsSync(join(gateway.state, 'last-good.json')); tries++)
    await new Promise((r) => setTimeout(r, 50));
  await gateway.serve.stop();
  gateway.serve = await startServe(gateway.bootstrap, 1, { admin: true, env: { ETCD_PASSWORD: 'nope' } });
  assert.match(
    gateway.serve.stderr(),
    /etcd refused this gateway \(.*authentication failed.*\): starting on the last good config/,
  );
  const source = await sourceOf(gateway);
  assert.match(
    String(source.summary),
    /^etcd refuses this gateway since \S+ \(etcd: .*authentication failed.*\), running revision \d+$/,
  );
  assert.deepEqual([source.reachable, source.unreachable_since], [false, null]);
  assert.match(String((source.denied as { why: string }).why), /authentication failed/);
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  assert.match(metrics.text, /^candor_config_source_unreachable_since_seconds\{key="\/candor\/config"\} 0$/m);
  // It serves on, on its last good config.
  assert.equal((await request(`http://127.0.0.1:${gateway.serve.port}`, { path: '/' })).text, 'one');
});

test('a wrong password and a last good config this gateway refuses: not started, saying etcd refused it, not that its revision is refused', async () => {
  await gateway.serve?.stop();
  gateway.serve = undefined;
  const yaml = join(gateway.state, 'last-good.yaml');
  const json = join(gateway.state, 'last-good.json');
  const refused = 'routes:\n  - name: all\n    match: { path: / }\n    upstream: nowhere\n';
  writeFileSync(yaml, refused);
  writeFileSync(
    json,
    JSON.stringify({
      ...JSON.parse(readFileSync(json, 'utf8')),
      document_hash: `sha256:${createHash('sha256').update(refused).digest('hex')}`,
    }),
  );
  const served = await candor(['serve', '--workers', '1', '--config', gateway.bootstrap], {
    ETCD_PASSWORD: 'nope',
    XDG_STATE_HOME: dir,
  });
  assert.equal(served.code, 69, served.stderr);
  assert.match(served.stderr, /routes\[0\]\.upstream: .*nowhere/);
  assert.doesNotMatch(served.stderr, /is refused/);
  assert.match(
    served.stderr,
    new RegExp(
      `\ncandor: could not start: etcd refused this gateway \\(.*authentication failed.*\\), and the last good config in ${yaml} cannot be used: it fails validation \\(above\\)\n$`,
    ),
  );
});

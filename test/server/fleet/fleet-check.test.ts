/**
 * `candor check BOOTSTRAP` and `candor serve --config BOOTSTRAP` on a bootstrap file with a
 * problem: every problem at its file, line and field, exit 78, nothing started.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { candor } from '../../helpers/fleet-gateways.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-check-');
after(() => rmSync(dir, { recursive: true, force: true }));

test('candor check on a bootstrap file: ok with what it names, or each problem at its line', async () => {
  const good = join(dir, 'good.yaml');
  writeFileSync(
    good,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:2379]\n    key: /candor/config\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const ok = await candor(['check', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout,
    `${good}: ok (bootstrap of gateway "edge-1": etcd /candor/config on 1 endpoint(s), state ${dir}/state; its document is checked by candor config push)\n`,
  );
  const bad = join(dir, 'bad.yaml');
  writeFileSync(
    bad,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:2379]\n    key: /candor/config/\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const refused = await candor(['check', bad]);
  assert.equal(refused.code, 78);
  assert.equal(
    refused.stderr,
    `${bad}:4:10  source.etcd.key: expected a key like /candor/config (it starts with /, and the fleet's own keys go under it), got "/candor/config/"\n1 problem in ${bad}\n`,
  );
  const serve = await candor(['serve', '--config', bad]);
  assert.equal(serve.code, 78);
  assert.equal(serve.stderr, refused.stderr);
});

test('tls with an http:// endpoint is refused at the endpoint (check, serve, push): TLS is never dropped unsaid', async () => {
  const mixed = join(dir, 'mixed.yaml');
  writeFileSync(join(dir, 'ca.pem'), '');
  writeFileSync(
    mixed,
    `source:\n  etcd:\n    endpoints: [https://127.0.0.1:2379, http://127.0.0.1:2380]\n    key: /candor/config\n    tls: { ca: ca.pem }\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const refused = await candor(['check', mixed]);
  assert.equal(refused.code, 78);
  assert.equal(
    refused.stderr,
    `${mixed}:3:41  source.etcd.endpoints[1]: tls is set but http://127.0.0.1:2380 is plain HTTP, which would send without it: write https://\n1 problem in ${mixed}\n`,
  );
  for (const args of [
    ['serve', '--config', mixed],
    ['config', 'push', mixed, '--config', mixed],
  ]) {
    const other = await candor(args);
    assert.equal(other.code, 78, args.join(' '));
    assert.equal(other.stderr, refused.stderr, args.join(' '));
  }
});

test("etcd's user and password to another machine over plain http: a warning at the endpoint (check and push), none to loopback", async () => {
  const file = join(dir, 'credentials.yaml');
  writeFileSync(
    file,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:2379, http://10.0.0.5:2379, https://10.0.0.6:2379]\n    key: /candor/config\n    username: gateway\n    password: \${ETCD_PASSWORD}\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const env = { ETCD_PASSWORD: 'secret' };
  const checked = await candor(['check', file], env);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(
    checked.stderr,
    `${file}:3:40  source.etcd.endpoints[1]: warning: the etcd user and password go to 10.0.0.5 over plain HTTP, readable on the way: write https:// (plain http only to a loopback address)\n`,
  );
  // (No etcd listens there: the warning comes first all the same.)
  const status = await candor(['fleet', 'status', '--config', file], env);
  assert.ok(status.stderr.startsWith(checked.stderr), status.stderr);
  const loopback = join(dir, 'loopback.yaml');
  writeFileSync(
    loopback,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:2379]\n    key: /candor/config\n    username: gateway\n    password: \${ETCD_PASSWORD}\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const quiet = await candor(['check', loopback], env);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
});

test("a problem in the bootstrap's local section: check and serve refuse it at its line (exit 78) before etcd is asked; what the document can settle is left to it", async () => {
  const file = join(dir, 'bad-local.yaml');
  // etcd's port refuses: the problems are the file's, whatever etcd holds.
  writeFileSync(
    file,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:1]\n    key: /candor/config\nstate: ${dir}/state\nlocal:\n  name: edge-1\n  listen:\n    - address: 127.0.0.1:99999\n    - address: 127.0.0.1:0\n      tls: { cert: ${dir}/none.pem, key: ${dir}/none-key.pem }\n  admin: { listen: 127.0.0.1:70000, token_env: CANDOR_TEST_ADMIN_TOKEN }\n`,
  );
  const checked = await candor(['check', file]);
  assert.equal(checked.code, 78, checked.stdout);
  const problems = [
    `${file}:9:16  listen[0].address: expected host:port like 127.0.0.1:8080 or [::1]:8080, got "127.0.0.1:99999" (a port is a number from 0 to 65535)`,
    `${file}:11:20  listen[1].tls.cert: cannot read "${dir}/none.pem": no such file`,
    `${file}:11:${36 + dir.length}  listen[1].tls.key: cannot read "${dir}/none-key.pem": no such file`,
    `${file}:12:20  admin.listen: expected host:port like 127.0.0.1:8080 or [::1]:8080, got "127.0.0.1:70000" (a port is a number from 0 to 65535)`,
    `${file}:12:48  admin.token_env: the environment variable CANDOR_TEST_ADMIN_TOKEN is not set`,
  ];
  assert.equal(checked.stderr, `${problems.join('\n')}\n${problems.length} problems in ${file}\n`);
  // Without its secrets (CI): the private key and the admin token that are not there are no problem.
  const lax = await candor(['check', '--without-secrets', file]);
  assert.equal(lax.code, 78);
  assert.equal(lax.stderr, `${[problems[0], problems[1], problems[3]].join('\n')}\n3 problems in ${file}\n`);
  const serve = await candor(['serve', '--config', file]);
  assert.equal(serve.code, 78, serve.stderr);
  assert.equal(serve.stderr, checked.stderr);
  // A listener that takes its client certificates from a proxy named in the document
  // (trust_forwarded_from): a question for the document, never a problem of the bootstrap alone.
  const forwarded = join(dir, 'forwarded-local.yaml');
  writeFileSync(
    forwarded,
    `source:\n  etcd:\n    endpoints: [http://127.0.0.1:1]\n    key: /candor/config\nstate: ${dir}/state\nlocal:\n  name: edge-1\n  listen:\n    - address: 127.0.0.1:0\n      client_certificates_from: forwarded\n`,
  );
  const ok = await candor(['check', forwarded]);
  assert.equal(ok.code, 0, ok.stderr);
});

test("check --without-secrets BOOTSTRAP: etcd's password variable unset and its client key absent are no problem (CI), as for a config; without the flag both are", async () => {
  // docs/fleet.md's bootstrap file, checked in CI where neither ETCD_PASSWORD nor the key is:
  // the flag spared only `local`'s secrets, and refused the file for the etcd section's.
  const file = join(dir, 'ci.yaml');
  writeFileSync(join(dir, 'etcd-client.pem'), '');
  writeFileSync(
    file,
    `source:\n  etcd:\n    endpoints: [https://127.0.0.1:2379]\n    key: /candor/config\n    tls: { cert: etcd-client.pem, key: ${dir}/etcd-client-key.pem }\n    username: candor\n    password: \${CANDOR_TEST_ETCD_PASSWORD}\nstate: ${dir}/state\nlocal:\n  name: edge-1\n`,
  );
  const strict = await candor(['check', file]);
  assert.equal(strict.code, 78, strict.stdout);
  assert.equal(
    strict.stderr,
    `${file}:7:15  source.etcd.password: environment variable CANDOR_TEST_ETCD_PASSWORD is not set (set it, or give a default with \${CANDOR_TEST_ETCD_PASSWORD:-value})\n1 problem in ${file}\n`,
  );
  const set = await candor(['check', file], { CANDOR_TEST_ETCD_PASSWORD: 'secret' });
  assert.equal(set.code, 78, set.stdout);
  assert.equal(
    set.stderr,
    `${file}:5:40  source.etcd.tls.key: cannot read ${dir}/etcd-client-key.pem: no such file\n1 problem in ${file}\n`,
  );
  const lax = await candor(['check', '--without-secrets', file]);
  assert.equal(lax.code, 0, lax.stderr);
  assert.equal(
    lax.stdout,
    `${file}: ok without its secrets (bootstrap of gateway "edge-1": etcd /candor/config on 1 endpoint(s), state ${dir}/state; its document is checked by candor config push)
serve will need:
  environment variable CANDOR_TEST_ETCD_PASSWORD (source.etcd.password): not set here
  file ${dir}/etcd-client-key.pem (source.etcd.tls.key): not here
`,
  );
  // A certificate is no secret: absent, it is still a problem with the flag.
  rmSync(join(dir, 'etcd-client.pem'));
  const noCert = await candor(['check', '--without-secrets', file]);
  assert.equal(noCert.code, 78);
  assert.match(
    noCert.stderr,
    /5:18 {2}source\.etcd\.tls\.cert: cannot read .*etcd-client\.pem: no such file\n1 problem in/,
  );
});

test('check --without-secrets BOOTSTRAP: an endpoint a variable gives whole gets a stand-in, and serve will need is listed, as for a config', async () => {
  // The bootstrap a fleet's CI checks, whose endpoint and secrets each machine gives: the
  // endpoint's variable unset was refused ("expected a URL … got \"\""), and an ok printed no
  // word of what serve would need, where a config's check lists it.
  const file = join(dir, 'ci-endpoint.yaml');
  writeFileSync(join(dir, 'ci-client.pem'), '');
  writeFileSync(
    file,
    `source:\n  etcd:\n    endpoints: ["\${CANDOR_TEST_ETCD_URL}"]\n    key: /candor/config\n    tls: { cert: ci-client.pem, key: ${dir}/ci-client-key.pem }\n    username: candor\n    password: \${CANDOR_TEST_ETCD_PASSWORD}\nstate: ${dir}/state\nlocal:\n  name: edge-1\n  listen:\n    - address: "\${CANDOR_TEST_LISTEN}"\n  admin: { listen: 127.0.0.1:0, token_env: CANDOR_TEST_ADMIN_TOKEN }\n`,
  );
  const lax = await candor(['check', '--without-secrets', file], { CANDOR_TEST_ETCD_PASSWORD: 'secret' });
  assert.equal(lax.code, 0, lax.stderr);
  assert.equal(
    lax.stdout,
    `${file}: ok without its secrets (bootstrap of gateway "edge-1": etcd /candor/config on 1 endpoint(s), state ${dir}/state; its document is checked by candor config push)
serve will need:
  environment variable CANDOR_TEST_ETCD_URL (source.etcd.endpoints[0]): not set here
  environment variable CANDOR_TEST_ETCD_PASSWORD (source.etcd.password): set here
  environment variable CANDOR_TEST_LISTEN (local.listen[0].address): not set here
  file ${dir}/ci-client-key.pem (source.etcd.tls.key): not here
  environment variable CANDOR_TEST_ADMIN_TOKEN (local.admin.token_env): not set here
`,
  );
  // Without the flag, the unset endpoint is refused as before.
  const strict = await candor(['check', file], { CANDOR_TEST_ETCD_PASSWORD: 'secret' });
  assert.equal(strict.code, 78);
  assert.match(
    strict.stderr,
    /source\.etcd\.endpoints\[0\]: environment variable CANDOR_TEST_ETCD_URL is not set/,
  );
});

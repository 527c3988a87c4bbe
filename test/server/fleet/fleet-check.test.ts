/**
 * `candor check BOOTSTRAP` and `candor serve --config BOOTSTRAP` on a bootstrap file with a
 * problem: every problem at its file, line and field, exit 78, nothing started.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { candor } from '../../helpers/fleet-gateways.ts';

const dir = mkdtempSync(join(tmpdir(), 'candor-fleet-check-'));
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

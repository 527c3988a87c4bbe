/**
 * A connect to a port of this machine's ephemeral range on which nothing listens can be given that
 * very port as its own: it reaches itself (a TCP simultaneous open) and reads back what it sent.
 * The upstream is refused, not answering garbage: 502 connection_refused, for HTTP/1.1 and HTTP/2
 * upstreams and for `candor diagnose`. The kernel's choice is made certain in a network namespace
 * whose ephemeral range is the upstream's one port (root: `unshare -n`, as CI runs).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const FIXTURE = join(import.meta.dirname, 'fixtures/self-connect.ts');
const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** Runs `command` in a new network namespace: loopback up, ephemeral ports 40000 only. */
function inNamespace(command: string): { status: number | null; stdout: string; stderr: string } {
  const setup = 'ip link set lo up && echo "40000 40000" > /proc/sys/net/ipv4/ip_local_port_range';
  const run = spawnSync('unshare', ['-n', 'sh', '-c', `${setup} && ${command}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const can = inNamespace('true');
const skip =
  can.status === 0
    ? false
    : `needs a network namespace of its own (unshare -n, as root): ${can.stderr.trim()}`;

for (const protocol of ['http1', 'h2c']) {
  test(`a ${protocol} upstream the connect reaches itself on is refused: 502 connection_refused`, {
    skip,
  }, () => {
    const run = inNamespace(`exec "${process.execPath}" "${FIXTURE}" ${protocol}`);
    assert.equal(run.status, 0, run.stderr);
    const answer = JSON.parse(run.stdout);
    assert.equal(answer.status, 502);
    assert.match(
      answer.proxyStatus,
      /^[^;]+; error=connection_refused; details="nothing listens on port 40000: the connection was given that port as its own and reached itself \(a TCP self-connect\) after [\d.]+ ms"/,
    );
    assert.equal(JSON.parse(answer.body).error, 'connection_refused');
    assert.equal(answer.error, 'connection_refused');
  });
}

test('candor diagnose says the upstream it reached itself on is refused', { skip }, () => {
  const run = inNamespace(`exec "${process.execPath}" "${BIN}" diagnose http://127.0.0.1:40000/`);
  assert.notEqual(run.status, 0, run.stdout);
  assert.match(run.stdout, /connection_refused/);
  assert.match(
    run.stdout,
    /nothing listens on port 40000: the connection was given that port as its own and reached itself/,
  );
});

/**
 * `candor diagnose` against a port that closes the connection without a word once it has the
 * request (issue 56 item 12): a real redis-server does (it takes an HTTP request's `Host:` line
 * for a cross-protocol attack and hangs up), and so does any service that does not speak
 * HTTP, as well as an app that crashes or restarts. The verdict stays the gateway's (reset /
 * connection_terminated, 502); the fix says both, never "it is crashing" alone.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { startRedis } from '../../helpers/redis-server.ts';

const BOTH =
  /^the upstream closed the connection after taking the request, without an answer: it is crashing or restarting, or what listens on 127\.0\.0\.1:\d+ does not speak HTTP \(a database, a cache, a broker: Redis, for one, hangs up on an HTTP request without a word\)\. Look in its own logs \(x-request-id diagnose-[0-9a-f]+\) for a crash, an OOM kill or a restart, and check which service listens on port \d+\.$/;

test('a real redis-server: the silent close is a crash or a service that is no HTTP one, both said', async () => {
  const redis = await startRedis();
  try {
    const report = await diagnose({ target: `http://127.0.0.1:${redis.port}/` });
    const [target] = report.targets;
    assert.equal(target.verdict.summary, 'reset / connection_terminated → Candor answers 502');
    assert.match(target.verdict.fix, BOTH);
    assert.equal(report.exitCode, 2);
  } finally {
    await redis.kill();
  }
});

test('a TCP server that reads the request and closes without a byte: both said', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const report = await diagnose({ target: `http://127.0.0.1:${port}/` });
    const [target] = report.targets;
    assert.equal(target.verdict.summary, 'reset / connection_terminated → Candor answers 502');
    assert.match(target.verdict.fix, BOTH);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * `candor diagnose` of a target that sends bytes past the end of its response (a Content-Length
 * smaller than the body it writes, a 204 with a body, a CRLF after the body): the gateway passes
 * the answer as framed, closes the connection for the rest and logs "upstream sent bytes past
 * its response" (test/upstream/connections/stray-bytes.test.ts). diagnose said "none needed:
 * the upstream answers as an HTTP server should", and did not show the bytes.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const faults: Fault[] = [];
after(() => Promise.all(faults.map((f) => f.close())));

/** A server that writes `answer` in one write to every request, and holds the connection. */
async function answering(answer: string): Promise<Fault> {
  const fault = await startRawFault(async (connection) => {
    await readRequest(connection);
    await connection.write(answer);
  });
  faults.push(fault);
  return fault;
}

const STRAY = 'upstream sent bytes past its response: connection closed, not reused';

test('a Content-Length smaller than the body: the bytes past it are shown, and the fix says what the gateway does with them', async () => {
  const target = await answering('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef\x1b[2J');
  const report = (await diagnose({ target: target.url })).targets[0];
  assert.equal(report.verdict.outcome, 'ok');
  assert.equal(report.verdict.status, 200);
  const body = report.steps.find((s) => s.step === 'body');
  assert.ok(body?.step === 'body');
  assert.equal(body.ok, true);
  assert.equal(body.summary.startsWith('3 bytes, content-length, complete'), true, body.summary);
  assert.deepEqual(body.notes, [
    '7 bytes came past the end of the response (its Content-Length: 3): "def\x1b[2J"',
  ]);
  assert.equal(
    report.verdict.fix,
    'the upstream sent 7 bytes past the end of its response (its Content-Length: 3): its Content-Length is smaller than the body it writes, or it wrote a second answer. Candor passes on the answer as framed (clients get the first 3 bytes of the body, the rest is lost), closes the connection and logs "upstream sent bytes past its response". Fix the framing the upstream writes.',
  );

  // What the gateway does with the same answer: the 3 bytes, and the warn line.
  const gw = await startTestGateway(singleUpstream(target.url));
  try {
    const res = await request(gw.url, { path: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'abc');
    await waitUntil('the stray-bytes line', () => gw.logs.some((l) => l.msg === STRAY));
    assert.equal(gw.logs.find((l) => l.msg === STRAY)?.bytes, 7);
  } finally {
    await gw.close();
  }
});

test('a 204 that writes a body: the bytes are past its end, as the gateway reads it', async () => {
  const target = await answering('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nabcde');
  const report = (await diagnose({ target: target.url })).targets[0];
  assert.equal(report.verdict.status, 204);
  const body = report.steps.find((s) => s.step === 'body');
  assert.deepEqual(body?.notes, ['5 bytes came past the end of the response (a 204 has no body): "abcde"']);
  assert.match(
    report.verdict.fix,
    /^the upstream sent 5 bytes past the end of its response \(a 204 has no body\): /,
  );
  assert.doesNotMatch(report.verdict.fix, /none needed/);
});

test('an answer that ends where its framing says: no note, none needed', async () => {
  const target = await answering('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
  const report = (await diagnose({ target: target.url })).targets[0];
  assert.deepEqual(report.steps.find((s) => s.step === 'body')?.notes, []);
  assert.equal(report.verdict.fix, 'none needed: the upstream answers as an HTTP server should.');
});

/**
 * `candor diagnose --acme`'s DNS-01 probe against a primary that takes every message and never
 * answers (its answers lost): the addition may have been applied, so the probe's record is
 * removed all the same, and a removal that goes unanswered too is told beside the failure.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { dns01Step } from '../../../src/server/acme/diagnose-dns01.ts';

let silent: net.Server;
let port = 0;
/** How many messages the silent primary was sent. */
let messages = 0;

before(async () => {
  silent = net.createServer((socket) => {
    socket.once('data', () => {
      messages++;
      socket.end();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as net.AddressInfo).port;
  process.env.CANDOR_TEST_DIAGNOSE_TSIG = Buffer.alloc(32, 3).toString('base64');
});

after(() => {
  silent?.close();
  delete process.env.CANDOR_TEST_DIAGNOSE_TSIG;
});

test('a probe whose addition and removal both go unanswered tells the record may be left, beside the failure', async () => {
  const checked = await dns01Step(
    {
      server: { address: `127.0.0.1:${port}`, host: '127.0.0.1', port },
      zone: 'example.test',
      tsig: { name: 'candor-key', algorithm: 'hmac-sha256', secretEnv: 'CANDOR_TEST_DIAGNOSE_TSIG' },
      nameservers: [{ host: '127.0.0.1', port }],
      propagationTimeout: 2_000,
    },
    '*.example.test',
  );
  assert.equal(messages, 2, 'the addition, then its removal');
  assert.equal(checked.step.ok, false);
  assert.equal(checked.step.summary, '_acme-challenge.example.test TXT: candor:dns-bad-answer');
  assert.equal(checked.step.notes.length, 2, JSON.stringify(checked.step.notes));
  assert.match(checked.step.notes[0], /the connection was closed before a whole answer$/);
  // The removal's failure was said to no one: the notes were the failure's alone.
  assert.match(checked.step.notes[1], /^DNS-01 record not removed: remove it by hand/);
  assert.equal(
    checked.verdict,
    "DNS-01's record for *.example.test cannot be written and seen (candor:dns-bad-answer)",
  );
});

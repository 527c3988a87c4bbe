/**
 * "What to check first" gives a shape's likely cause and check from its most frequent type. A
 * shape two types share gave the other type no check at all: a real gateway's log with an
 * upstream refused (connection_refused) and another sent TLS to a plain HTTP port
 * (tls_protocol_error), both "unreachable", told to "start the upstream process, or fix the
 * port" for both, which is not the fix of the second. Each type of a shape whose check differs
 * from the first's gets its own.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { FAILURES } from '../../../src/core/failure/taxonomy.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let report: Report;

before(async () => {
  const refusing = await startRefusing();
  const plain = await startEcho();
  const gw = await startTestGateway(`name: edge-1
routes:
  - { name: down, match: { path: /down }, upstream: down }
  - { name: plain, match: { path: /plain }, upstream: plain }
upstreams:
  down:
    targets: [{ url: ${refusing.url} }]
    retries: { attempts: 1 }
  plain:
    targets: [{ url: ${plain.url.replace('http://', 'https://')} }]
    retries: { attempts: 1 }
`);
  try {
    for (const path of ['/down', '/down', '/down', '/plain', '/plain'])
      assert.equal((await request(gw.url, { path })).status, 502, path);
    await gw.accessLine(5);
  } finally {
    await gw.close();
    await plain.close();
    await refusing.close();
  }
  const dir = tempDir('candor-explain-checks-');
  const file = join(dir, 'candor.log');
  const lines = gw.logs.filter((line) => line.msg === 'request');
  writeFileSync(file, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  report = await explain([file]);
});

test('the log holds both types in the unreachable shape', () => {
  const unreachable = report.shapes.find((s) => s.shape === 'unreachable');
  assert.deepEqual(
    unreachable?.types.map((t) => [t.type, t.count, t.upstreams.map((u) => u.upstream)]),
    [
      ['connection_refused', 3, ['down']],
      ['tls_protocol_error', 2, ['plain']],
    ],
  );
});

test('what to check first gives the second type of a shape its own check, with where it failed', () => {
  const text = renderText(report);
  const section = text.slice(text.indexOf('What to check first'));
  assert.match(section, /check: {2}Start the upstream process, or fix the port in the target URL\./);
  assert.ok(
    section.includes(`also:   tls_protocol_error (2, plain): ${FAILURES.tls_protocol_error.fix}`),
    section,
  );
  const unreachable = report.shapes.find((s) => s.shape === 'unreachable');
  assert.deepEqual(unreachable?.alsoCheck, [
    {
      type: 'tls_protocol_error',
      case: '',
      count: 2,
      upstreams: ['plain'],
      check: FAILURES.tls_protocol_error.fix,
    },
  ]);
});

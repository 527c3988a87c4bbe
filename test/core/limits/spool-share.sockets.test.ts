/**
 * A spool whose total, or whose worker's share of it (⌊max_total/N⌋), is under the 64 KiB a
 * response needs to begin spooling never spools: `candor check` and `serve`'s start say so.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { spoolShareTooSmall } from '../../../src/core/limits/spool-share.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const KiB = 1024;

test('the share of each worker is judged: 256 KiB among 8 is 32 KiB each, too small; among 4, 64 KiB, enough; 0 is a spool turned off', () => {
  assert.equal(
    spoolShareTooSmall(256 * KiB, 8),
    "262144 bytes split among 8 workers leaves each 32768, under the 64 KiB a response needs to begin spooling: no response is spooled (a slow reader's upstream waits for it as without a spool); give it at least 8 × 64 KiB (512KiB), or run fewer workers",
  );
  assert.equal(spoolShareTooSmall(256 * KiB, 4), undefined);
  assert.equal(
    spoolShareTooSmall(32 * KiB, 1),
    "32768 bytes is under the 64 KiB a response needs to begin spooling: no response is spooled (a slow reader's upstream waits for it as without a spool)",
  );
  assert.equal(spoolShareTooSmall(64 * KiB, 1), undefined);
  assert.equal(spoolShareTooSmall(0, 8), undefined);
});

const CONFIG = (maxTotal: string) => `name: spool-edge
listen:
  - address: 127.0.0.1:0
limits: { spool: { max_total: ${maxTotal} } }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;

test('candor check warns at limits.spool.max_total of a total under 64 KiB, whatever the worker count', () => {
  const warnings = configWarnings(parseConfig(CONFIG('32KiB'), '<test>', {}));
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(
    warnings[0],
    /^limits\.spool\.max_total: 32768 bytes .*under the 64 KiB a response needs to begin spooling: no response is spooled/,
  );
  assert.deepEqual(configWarnings(parseConfig(CONFIG('4GiB'), '<test>', {})), []);
});

test('serve warns at its start when its worker count leaves each share under 64 KiB', async () => {
  const path = join(tempDir('candor-spool-share-'), 'gateway.yaml');
  writeFileSync(path, CONFIG('100KiB'));
  const serve = await startServe(path, 2);
  try {
    const line = serve.lines.find((l) => l.field === 'limits.spool.max_total');
    assert.ok(line, JSON.stringify(serve.lines));
    assert.equal(line.level, 'warn');
    assert.equal(line.workers, 2);
    assert.match(String(line.msg), /^102400 bytes split among 2 workers leaves each 51200, under the 64 KiB/);
  } finally {
    await serve.stop();
  }
});

/**
 * A log shipper that re-encodes every field (Fluent Bit, Vector, Logstash, syslog relays) writes
 * Candor's numbers and booleans as strings: `"status":"502"`, `"total_ms":"12.5"`,
 * `"client_aborted":"true"`. `candor explain` dropped every such request line unread (its
 * status was not a number), and told of a log with no requests in it. The recorded fixture,
 * re-encoded so, must read as the original does.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, LOG_SETS } from './explain-fixture.ts';

/** Every number and boolean of the value as its string, as a shipper writes it. */
function stringly(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(stringly);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringly(v)]));
  return value;
}

test('a Candor log whose numbers and booleans a shipper wrote as strings reads as the original', async () => {
  const [original] = LOG_SETS.candor;
  const shipped = join(tempDir('candor-explain-shipped-'), 'candor.log');
  const lines = readFileSync(original, 'utf8').trimEnd().split('\n');
  writeFileSync(shipped, `${lines.map((line) => JSON.stringify(stringly(JSON.parse(line)))).join('\n')}\n`);
  const [before, after] = [await explain([original]), await explain([shipped])];
  assert.ok(before.requests > 200, String(before.requests));
  assert.equal(after.requests, before.requests);
  assert.deepEqual(after.statuses, before.statuses);
  assert.deepEqual(after.shapes, before.shapes);
  assert.deepEqual(after.errors5xx, before.errors5xx);
  assert.deepEqual(after.timeouts, before.timeouts);
  assert.equal(after.clientAborted, before.clientAborted);
  assert.deepEqual(after.storms, before.storms);
});

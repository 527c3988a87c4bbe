/**
 * A stored answer's Date is when it was made (RFC 9110 §6.6.1), whatever the time of the hit: the
 * origin's own, or, for an answer that came without one, the time it came, which the gateway
 * wrote on the miss that stored it. Age says how long ago.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import CachePolicy from 'http-cache-semantics';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';

const request = { method: 'GET', url: '/a', headers: { host: 'a.test' } };

/** An answer stored `ago` ms before now, with these fields. */
function storedAgo(ago: number, fields: string[]): StoredAnswer {
  const made = policyOf(request, 200, fields).toObject();
  const policy = CachePolicy.fromObject({ ...made, t: made.t - ago });
  return new StoredAnswer('a.test /a http', policy, 200, 'OK', Buffer.from('a'), originOnly(60_000));
}

function field(fields: string[], name: string): string | undefined {
  const at = fields.indexOf(name);
  return at === -1 ? undefined : fields[at + 1];
}

test('an answer stored without Date goes out with the time it came, and Age since', () => {
  const came = Date.now() - 90_000;
  const fields = storedAgo(90_000, ['Cache-Control', 'max-age=600']).fields();
  const date = Date.parse(field(fields, 'date') as string);
  assert.ok(Math.abs(date - came) < 2000, `Date ${field(fields, 'date')} is when it came, not now`);
  assert.equal(field(fields, 'age'), '90');
});

test("an answer with the origin's Date keeps it", () => {
  const made = new Date(Date.now() - 120_000).toUTCString();
  const fields = storedAgo(90_000, ['Cache-Control', 'max-age=600', 'Date', made]).fields();
  assert.equal(field(fields, 'date'), made);
});

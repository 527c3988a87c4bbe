/**
 * A failed name lookup claims only the DNS response code the resolver gave. The system
 * resolver's EAI_AGAIN is a SERVFAIL or no answer at all (a machine whose resolver is down
 * says it too): it was told as rcode="SERVFAIL". getaddrinfo's codes come from the machine's
 * own resolver, which a test on loopback cannot point elsewhere: hence the code, given here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyConnectError } from '../../../src/core/failure/classify.ts';

const lookupFailed = (code: string) =>
  classifyConnectError(Object.assign(new Error(`getaddrinfo ${code} api.internal`), { code }), 'dns', 12);

test('a lookup names the rcode the resolver said, and none it did not', () => {
  // Node's ENOTFOUND is getaddrinfo's EAI_NONAME and EAI_NODATA alike: NXDOMAIN or no data
  // (test/upstream/connections/system-resolver.test.ts shows both against a real server).
  assert.deepEqual(lookupFailed('ENOTFOUND').params, {});
  assert.deepEqual(lookupFailed('ENODATA').params, { rcode: 'NOERROR' });
  const again = lookupFailed('EAI_AGAIN');
  assert.equal(again.type, 'dns_error');
  assert.equal(again.status, 502);
  assert.deepEqual(again.params, {});
  assert.equal(
    again.details,
    'name lookup failed for now (EAI_AGAIN: the resolver answered SERVFAIL, or not in time) after 12 ms',
  );
  assert.deepEqual(lookupFailed('EAI_FAIL').params, {});
});

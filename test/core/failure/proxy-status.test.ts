/**
 * Reading a Proxy-Status header (RFC 9209) as diagnose and candor/client do: the members in
 * order, and the nearest one (the only one a client of that gateway acts on).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readProxyStatus, readProxyStatusMembers } from '../../../src/core/failure/proxy-status.ts';

describe('readProxyStatus', () => {
  test("reads the last member: the gateway's error, details and next hop", () => {
    const member = readProxyStatus(
      'upstream-lb; received-status=200, edge-1; error=connection_refused; details="refused, \\"really\\" (ECONNREFUSED)"; next-hop="app"',
    );
    assert.equal(member?.proxy, 'edge-1');
    assert.equal(member?.error, 'connection_refused');
    assert.equal(member?.details, 'refused, "really" (ECONNREFUSED)');
    assert.equal(member?.nextHop, 'app');
    assert.equal(readProxyStatus('edge-1; received-status=503; next-hop="app"')?.receivedStatus, 503);
    assert.equal(readProxyStatus('edge-1; error=brand_new_error')?.unknownError, 'brand_new_error');
    assert.equal(readProxyStatus(undefined), undefined);
  });

  test("behind two gateways, the nearest gateway's member is read: its received-status, not the inner error", () => {
    const header =
      'inner; error=connection_refused; next-hop="app", outer; received-status=502; next-hop="inner"';
    assert.equal(readProxyStatusMembers(header).length, 2);
    const nearest = readProxyStatus(header);
    assert.equal(nearest?.proxy, 'outer');
    assert.equal(nearest?.error, undefined);
    assert.equal(nearest?.receivedStatus, 502);
    assert.equal(readProxyStatus('edge; received-status=abc')?.receivedStatus, undefined);
    assert.deepEqual(readProxyStatusMembers(undefined), []);
  });

  test('whitespace is SP and HTAB only: obs-text (0xa0) stays part of what it is next to (issue 31)', () => {
    const member = readProxyStatus('edge-1 ;\terror=connection_refused ; next-hop="app"\t');
    assert.equal(member?.proxy, 'edge-1');
    assert.equal(member?.error, 'connection_refused');
    assert.equal(member?.nextHop, 'app');
    const nbsp = readProxyStatus('edge-1;\xa0error=connection_refused');
    assert.equal(nbsp?.error, undefined, 'a parameter after \\xa0 is no parameter');
    assert.equal(readProxyStatus('\xa0edge-1')?.proxy, '\xa0edge-1');
  });
});

/**
 * Reading a Proxy-Status header (RFC 9209) as diagnose and candor/client do: the members in
 * order, and the nearest one (the only one a client of that gateway acts on).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import {
  failureProxyStatus,
  isMalformedProxyStatus,
  proxyStatusType,
  readProxyStatus,
  readProxyStatusMembers,
} from '../../../src/core/failure/proxy-status.ts';
import { FAILURE_TYPES } from '../../../src/core/failure/taxonomy.ts';

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

  test('a value that cannot be read is no member: nothing is guessed from it (RFC 9651 §4.2)', () => {
    for (const value of [
      'edge; error=connection_refused; details="cut',
      '; error=dns_timeout',
      'edge error=connection_refused',
      'inner; error=dns_timeout,, edge; error=connection_refused',
    ]) {
      assert.deepEqual(readProxyStatusMembers(value), [], value);
      assert.equal(isMalformedProxyStatus(value), true, value);
    }
    assert.equal(isMalformedProxyStatus('edge; error=connection_refused'), false);
    assert.equal(isMalformedProxyStatus(undefined), false);
  });

  test('a quoted member name is read whole, escapes and all; its ";" starts no parameter', () => {
    const member = readProxyStatus('"edge \\"one\\"; error=dns_error"; error=connection_timeout');
    assert.equal(member?.proxy, 'edge "one"; error=dns_error');
    assert.equal(member?.error, 'connection_timeout');
  });
});

/** RFC 9209 §2.3's proxy error types (the IANA registry's), written out: Proxy-Status names no other. */
const RFC_9209_TYPES = new Set([
  'dns_timeout',
  'dns_error',
  'destination_not_found',
  'destination_unavailable',
  'destination_ip_prohibited',
  'destination_ip_unroutable',
  'connection_refused',
  'connection_terminated',
  'connection_timeout',
  'connection_read_timeout',
  'connection_write_timeout',
  'connection_limit_reached',
  'tls_protocol_error',
  'tls_certificate_error',
  'tls_alert_received',
  'http_request_error',
  'http_request_denied',
  'http_response_incomplete',
  'http_response_header_section_size',
  'http_response_header_size',
  'http_response_body_size',
  'http_response_trailer_section_size',
  'http_response_trailer_size',
  'http_response_transfer_coding',
  'http_response_content_coding',
  'http_response_timeout',
  'http_upgrade_failed',
  'http_protocol_error',
  'proxy_internal_response',
  'proxy_internal_error',
  'proxy_configuration_error',
  'proxy_loop_detected',
]);

test('every failure writes a registered RFC 9209 type in Proxy-Status (or none), whatever its own name', () => {
  for (const type of FAILURE_TYPES) {
    const member = failureProxyStatus('edge-1', new Failure(type, 'x'), undefined, true);
    const written = /; error=([a-z_]+)/.exec(member)?.[1];
    if (written !== undefined) assert.ok(RFC_9209_TYPES.has(written), `${type} writes error=${written}`);
    else assert.equal(proxyStatusType(type), null, `${type} writes no error`);
    assert.equal(written ?? null, proxyStatusType(type));
  }
});

test("RFC 9209's registry is the failure table's registered types and the ones Candor never writes, each once", async () => {
  const { OTHER_REGISTERED_TYPES } = await import('../../../src/core/failure/registered-types.ts');
  const written = new Set(FAILURE_TYPES.map(proxyStatusType).filter((type) => type !== null));
  const others = Object.keys(OTHER_REGISTERED_TYPES);
  for (const type of others) assert.ok(!written.has(type), `${type} is written by Candor`);
  assert.deepEqual(new Set([...written, ...others]), RFC_9209_TYPES);
});

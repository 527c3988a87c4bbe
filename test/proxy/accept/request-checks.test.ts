/**
 * The accept checks on a parsed head, for both protocols: the Host rule (the authority rule
 * of core/http1/request-rules.ts), and field values read without SP and HTAB only (issue 31).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
import { type DownstreamHead, fieldMap } from '../../../src/core/net/downstream.ts';
import { checkRequest, maxForwardsSpent } from '../../../src/proxy/accept/request-checks.ts';

function head(headers: string[], target = '/'): DownstreamHead {
  return {
    method: 'POST',
    target,
    versionMajor: 1,
    versionMinor: 1,
    protocol: 'HTTP/1.1',
    headers,
    remoteAddress: '127.0.0.1',
    encrypted: false,
    bodyLength: undefined,
    upgrade: false,
    expectContinue: false,
  } as DownstreamHead;
}

const check = (headers: string[]) =>
  checkRequest(head(headers), fieldMap(headers), { ...DEFAULTS.limits, spoolDir: '/tmp' });

test('Host is held to the authority rule: a port up to 65535, no userinfo, no empty host', () => {
  assert.equal(check(['host', 'h.example:65535']), undefined);
  assert.equal(check(['host', 'h.example:65536'])?.details, 'invalid Host header (port out of range)');
  assert.equal(
    check(['host', 'u:p@h.example'])?.details,
    'invalid Host header (userinfo (user@) in the authority)',
  );
  assert.equal(check(['host', ''])?.details, 'invalid Host header (empty host)');
  assert.equal(check(['host', 'h.example:65536'])?.status, 400);
});

test('Transfer-Encoding members are read without SP and HTAB only: \\xa0chunked is not chunked', () => {
  assert.equal(check(['host', 'a', 'transfer-encoding', ' chunked\t']), undefined);
  assert.equal(check(['host', 'a', 'transfer-encoding', 'gzip , chunked'])?.status, 501);
  assert.equal(check(['host', 'a', 'transfer-encoding', '\xa0chunked\xa0'])?.status, 400);
  assert.equal(check(['host', 'a', 'transfer-encoding', 'chunked\xa0'])?.status, 400);
  // Empty members are ignored (RFC 9110 §5.6.1.2), as the parser ignores them: not a coding "".
  assert.equal(check(['host', 'a', 'transfer-encoding', ', chunked']), undefined);
});

test('Max-Forwards: 0 with SP or HTAB around it is spent; with obs-text it is no number', () => {
  assert.equal(maxForwardsSpent(['Max-Forwards', ' 0\t']), true);
  assert.equal(maxForwardsSpent(['max-forwards', '\xa00']), false);
  assert.equal(maxForwardsSpent(['max-forwards', '1']), false);
});

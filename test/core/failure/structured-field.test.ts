import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { failureProxyStatus, receivedStatusProxyStatus } from '../../../src/core/failure/proxy-status.ts';
import { isSfList, sfString, sfTokenOrString } from '../../../src/core/failure/structured-field.ts';

test('sf-strings escape quotes and backslashes and never carry non-printable bytes', () => {
  assert.equal(sfString('a "b" \\c'), '"a \\"b\\" \\\\c"');
  assert.equal(sfString('tab\there\u00e9'), '"tab?here?"');
});

test('a name is a token when it can be, a string otherwise', () => {
  assert.equal(sfTokenOrString('edge-1'), 'edge-1');
  assert.equal(sfTokenOrString('1edge'), '"1edge"');
  assert.equal(sfTokenOrString('my proxy'), '"my proxy"');
});

test('Proxy-Status members carry error, its parameters, details and next-hop (RFC 9209)', () => {
  const failure = new Failure('dns_error', 'name does not resolve', { params: { rcode: 'NXDOMAIN' } });
  assert.equal(
    failureProxyStatus('edge-1', failure, 'api'),
    'edge-1; error=dns_error; rcode="NXDOMAIN"; details="name does not resolve"; next-hop="api"',
  );
  const alert = new Failure('tls_alert_received', 'x', {
    params: { alertId: 40, alertMessage: 'handshake_failure' },
  });
  assert.match(
    failureProxyStatus('e', alert, undefined),
    /^e; error=tls_alert_received; alert-id=40; alert-message="handshake_failure"; details="x"$/,
  );
  assert.equal(
    receivedStatusProxyStatus('edge-1', 503, 'api'),
    'edge-1; received-status=503; next-hop="api"',
  );
});

test('a List another hop wrote is told from one that is not (RFC 9651 §4.2.1)', () => {
  for (const list of [
    'inner; error=connection_refused; details="a \\"b\\" \\\\c"',
    'a, b',
    'a\t,\tb ',
    '"name"; x=1.5; y=?1; z=:YWJj:; w=@17; v=%"f%c3%bc"',
    '(a b);q=1, c',
  ])
    assert.equal(isSfList(list), true, list);
  for (const garbage of [
    '',
    ' ',
    'a,',
    'a, , b',
    'inner; details="open',
    '"open, x',
    'a;;',
    'a;X=1',
    '1a',
    '"\u00e9"',
    // RFC 9651 §3.3.2: a decimal has at most 12 digits before its point, an integer 15.
    'a;x=1234567890123.5',
    '1234567890123.5',
    '1234567890123456',
  ])
    assert.equal(isSfList(garbage), false, garbage);
});

test("a List's check takes time in proportion to the value, however hostile (an upstream's Proxy-Status)", {
  timeout: 20_000,
}, () => {
  // An inner list opened and then 256 KiB of spaces: with the spaces after "(" and before ")"
  // both optional, V8 tried every split of the run, quadratic: 32 KiB (a response head's bound)
  // took ~2 s of the worker's event loop, this ~2 min. Linear, it is a few milliseconds.
  const spaces = ' '.repeat(256 * 1024);
  for (const hostile of [`(${spaces}x`, `(a${spaces}!`, `(${spaces}`, `a, (${spaces}`])
    assert.equal(isSfList(hostile), false);
  assert.equal(isSfList(`(${spaces})`), true);
  assert.equal(isSfList(`( a b${spaces})`), true);
});

/**
 * The request rules both wires refuse with (issue 31, items 7 and 8): one method rule, one
 * authority rule for Host, `:authority` and an absolute-form target alike, one field rule,
 * and whitespace that is SP and HTAB only. The wire-level tests (framing.test.ts over
 * HTTP/1.1, h2-request-checks.test.ts over HTTP/2) show them answered the same.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionNominated } from '../../../src/core/http1/hop-by-hop.ts';
import {
  authorityFault,
  fieldBreak,
  methodBreak,
  targetBreak,
} from '../../../src/core/http1/request-rules.ts';
import { trimOws } from '../../../src/core/http1/syntax.ts';

test('trimOws strips SP and HTAB only: U+00A0 (obs-text 0xa0) and other Unicode spaces stay', () => {
  assert.equal(trimOws(' \t chunked\t '), 'chunked');
  assert.equal(trimOws('\xa0chunked\xa0'), '\xa0chunked\xa0');
  assert.equal(trimOws(' \xa0chunked '), '\xa0chunked');
  assert.equal(trimOws('\u2003x\u3000'), '\u2003x\u3000');
  assert.equal(trimOws('\fx\v'), '\fx\v');
  assert.equal(trimOws('   '), '');
  const same = 'untouched';
  assert.equal(trimOws(same), same);
});

test('methods: known ones pass, an unknown token is a 501 (case counts), a non-token a 400', () => {
  for (const method of ['GET', 'POST', 'M-SEARCH', 'QUERY', 'CONNECT'])
    assert.equal(methodBreak(method), undefined);
  assert.deepEqual(methodBreak('FOOBAR'), {
    status: 501,
    code: 'HPE_INVALID_METHOD',
    details: 'method FOOBAR is not implemented',
  });
  assert.equal(methodBreak('get')?.status, 501);
  assert.equal(methodBreak('G(E)T')?.status, 400);
  assert.equal(methodBreak('')?.status, 400);
});

test('authorities: a host with an optional port up to 65535; no userinfo, no empty host, no comma or "%"', () => {
  for (const ok of [
    'a',
    'h.example',
    'h.example:8080',
    'h.example:',
    'h.example:65535',
    '[::1]:80',
    '127.0.0.1',
    'xn--bcher-kva.example',
  ])
    assert.equal(authorityFault(ok), undefined, ok);
  assert.equal(authorityFault(''), 'empty host');
  assert.equal(authorityFault(':80'), 'empty host');
  assert.equal(authorityFault('user:secret@internal.example'), 'userinfo (user@) in the authority');
  assert.equal(authorityFault('@h'), 'userinfo (user@) in the authority');
  assert.equal(authorityFault('h.example:65536'), 'port out of range');
  assert.equal(authorityFault('h.example:99999999'), 'port out of range');
  assert.equal(authorityFault('h.example:0065535'), 'port out of range');
  assert.equal(authorityFault('a b'), 'not a host[:port]');
  assert.equal(authorityFault('h\xa0'), 'not a host[:port]');
  assert.equal(authorityFault('h/p'), 'not a host[:port]');
  assert.equal(authorityFault('h:8a'), 'not a host[:port]');
  // Both in RFC 3986's reg-name, neither in a host name: a list of hosts, and escapes a URL
  // parser decodes into another name than the router matched (host-spelling.sockets.test.ts).
  assert.equal(authorityFault('a.example,b.example'), 'a comma in the host (a list of hosts, not one)');
  assert.equal(authorityFault('a%41b'), 'a percent-encoded host (a "%" in it)');
  assert.equal(authorityFault('a.example%2e:80'), 'a percent-encoded host (a "%" in it)');
});

test('an IPv6 address without its brackets is named as one, not as an empty host (RFC 3986 §3.2.2)', () => {
  // `::1` was "empty host", which a client reading a 400's details takes for a Host it left blank.
  for (const bare of ['::1', '::1:8080', '2001:db8::1', '::ffff:127.0.0.1', 'fe80::1'])
    assert.equal(authorityFault(bare), 'an IPv6 address without its brackets ([::1], [::1]:8080)', bare);
  assert.equal(authorityFault('[::1]'), undefined);
  assert.equal(authorityFault(':80'), 'empty host');
  assert.equal(authorityFault('a:b:c'), 'not a host[:port]');
  assert.equal(
    targetBreak('http://::1/x')?.details,
    'malformed request (HPE_INVALID_URL: absolute-form target: an IPv6 address without its brackets ([::1], [::1]:8080))',
  );
});

test("targets: visible ASCII only; an absolute form's authority is held to the authority rule", () => {
  for (const ok of [
    '/',
    '/a?b',
    '*',
    'http://h.example/p',
    'HTTPS://H.example:443?q',
    'http://h.example',
    'http://[::1]:8080/',
  ])
    assert.equal(targetBreak(ok), undefined, ok);
  assert.equal(
    targetBreak('/caf\xc3\xa9\xff')?.details,
    'malformed request (HPE_INVALID_URL: invalid request target)',
  );
  assert.equal(targetBreak('/a b')?.status, 400);
  assert.equal(targetBreak('')?.status, 400);
  assert.equal(
    targetBreak('http://user:secret@internal.example/')?.details,
    'malformed request (HPE_INVALID_URL: absolute-form target: userinfo (user@) in the authority)',
  );
  assert.match(targetBreak('http://h.example:99999999/')?.details ?? '', /port out of range/);
  assert.match(targetBreak('http:///nohost')?.details ?? '', /empty host/);
  assert.match(targetBreak('http://#frag')?.details ?? '', /empty host/);
});

test('fields: a token name, no control in the value, no whitespace around it; obs-text is fine', () => {
  assert.equal(fieldBreak('x-ok', 'a b\tc'), undefined);
  assert.equal(fieldBreak('x-obs', '\xa0a\xff'), undefined);
  assert.equal(fieldBreak('x-empty', ''), undefined);
  assert.match(fieldBreak('x-lead', ' a')?.details ?? '', /whitespace around the value of header "x-lead"/);
  assert.match(fieldBreak('x-trail', 'a\t')?.details ?? '', /whitespace around/);
  assert.match(
    fieldBreak('x-nul', 'a\0b')?.details ?? '',
    /invalid character in the value of header "x-nul"/,
  );
  assert.match(fieldBreak('x-del', 'a\x7f')?.details ?? '', /invalid character/);
  assert.match(fieldBreak('x:colon', 'v')?.details ?? '', /invalid header field name/);
  assert.match(fieldBreak('', 'v')?.details ?? '', /invalid header field name/);
  assert.equal(fieldBreak('x-lead', ' a')?.status, 400);
  // An HTTP/2 field name as long as the header list allows is named by its first 40 characters.
  assert.match(
    fieldBreak(`x${'n'.repeat(3000)}`, 'a\0')?.details ?? '',
    /invalid character in the value of header "xn{39}\.\.\."\)$/,
  );
});

test('Connection nominates by tokens without SP and HTAB only: "\\xa0x-secret" is no "x-secret"', () => {
  assert.deepEqual(connectionNominated([' close , X-Secret\t']), new Set(['x-secret']));
  assert.deepEqual(connectionNominated(['\xa0x-secret']), new Set(['\xa0x-secret']));
  assert.equal(connectionNominated(['close\t, keep-alive ']), undefined);
});

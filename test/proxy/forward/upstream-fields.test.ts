/**
 * The upstream request's fields (src/proxy/forward/request-headers.ts), built in one list made
 * to its size once each client field is judged: exactly the fields that go, in order, whatever
 * goes and whatever this hop adds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildUpstreamHeaders } from '../../../src/proxy/forward/request-headers.ts';

const FACTS = {
  clientAddress: '10.0.0.1',
  trusted: false,
  protocol: 'http',
  host: 'a.test',
  requestId: 'id-1',
  traceparent: 'tp',
  keepTracestate: false,
  via: '1.1 edge',
};
const HOP = [
  'x-forwarded-for',
  '10.0.0.1',
  'x-forwarded-proto',
  'http',
  'x-forwarded-host',
  'a.test',
  'via',
  '1.1 edge',
  'x-request-id',
  'id-1',
  'traceparent',
  'tp',
];

test("a client's fields as they came, dropped, or with this hop's value; then this hop's, no slot left over", () => {
  const raw = [
    'Host',
    'x',
    'Connection',
    'keep-alive, X-Gone',
    'X-Gone',
    '1',
    'Content-Length',
    '007',
    'Max-Forwards',
    '3',
    'X-Real-IP',
    '6.6.6.6',
    'Accept',
    '*/*',
    'Via',
    '1.0 before',
  ];
  const out = buildUpstreamHeaders(raw, FACTS);
  assert.deepEqual(out, [
    'Host',
    'a.test',
    'Content-Length',
    '7',
    'Max-Forwards',
    '2',
    'Accept',
    '*/*',
    'forwarded',
    'for=10.0.0.1;host=a.test;proto=http',
    ...HOP.slice(0, 6),
    'via',
    '1.0 before, 1.1 edge',
    ...HOP.slice(8),
  ]);
  assert.equal(out.length, Object.keys(out).length);
});

test('no Host from the client: the authority first; none at all: no Host, no X-Forwarded-Host', () => {
  assert.deepEqual(buildUpstreamHeaders(['a', '1'], FACTS).slice(0, 4), ['host', 'a.test', 'a', '1']);
  const none = buildUpstreamHeaders(['a', '1'], { ...FACTS, host: '' });
  assert.deepEqual(none, [
    'a',
    '1',
    'forwarded',
    'for=10.0.0.1;proto=http',
    ...HOP.slice(0, 4),
    ...HOP.slice(6),
  ]);
});

test("a trusted proxy's Forwarded and X-Forwarded-* said again with this hop's entry; without its Forwarded, none", () => {
  const trusted = { ...FACTS, trusted: true };
  const raw = ['Host', 'a.test', 'Forwarded', 'for=1.1.1.1', 'X-Forwarded-Host', 'b.test, c.test'];
  const out = buildUpstreamHeaders(raw, trusted);
  assert.deepEqual(out.slice(0, 4), [
    'Host',
    'a.test',
    'forwarded',
    'for=1.1.1.1, for=10.0.0.1;host=a.test;proto=http',
  ]);
  assert.deepEqual(out.slice(8, 10), ['x-forwarded-host', 'c.test']);
  assert.equal(out.length, 16);
  assert.deepEqual(buildUpstreamHeaders(['Host', 'a.test'], trusted), ['Host', 'a.test', ...HOP]);
});

test('each name this hop treats apart is told in any case, as it came; a name one letter off goes on', () => {
  const offByOne = ['Hosts', 'y', 'Expects', 'z', 'Max-Forward', 'w'];
  const raw = [
    'hOsT',
    'x',
    'EXPECT',
    '100-continue',
    'Proxy',
    'http://evil',
    'TraceParent',
    'tp-client',
    'X-REQUEST-ID',
    'id-client',
    'X-Rewrite-Url',
    '/admin',
    'x-original-URL',
    '/admin',
    'X-Forwarded-FOR',
    '6.6.6.6',
    'x-forwarded-Proto',
    'https',
    'X-FORWARDED-HOST',
    'evil.test',
    'FORWARDED',
    'for=6.6.6.6',
    'TraceState',
    'a=1',
    'X-Real-Ip',
    '6.6.6.6',
    'Upgrade',
    'h2c',
    'CONTENT-length',
    '00',
    'max-FORWARDS',
    '3',
    'VIA',
    '1.0 before',
    ...offByOne,
  ];
  assert.deepEqual(buildUpstreamHeaders(raw, FACTS), [
    ...['hOsT', 'a.test', 'CONTENT-length', '0', 'max-FORWARDS', '2', ...offByOne],
    ...['forwarded', 'for=10.0.0.1;host=a.test;proto=http', ...HOP.slice(0, 6)],
    ...['via', '1.0 before, 1.1 edge', ...HOP.slice(8)],
  ]);
  const traced = buildUpstreamHeaders(['TRACESTATE', 'a=1'], { ...FACTS, keepTracestate: true });
  assert.deepEqual(traced.slice(2, 4), ['TRACESTATE', 'a=1']);
});

test("a trusted proxy that wrote only Forwarded: its for= nodes are X-Forwarded-For's entries before this hop's", () => {
  const trusted = { ...FACTS, trusted: true };
  const forwarded =
    'for=1.1.1.1;proto=https, for="[2001:db8::7]:4711", for=_hidden, by=x, for="6.6.6.6, 7.7.7.7"';
  const out = buildUpstreamHeaders(['Host', 'a.test', 'Forwarded', forwarded], trusted);
  const xff = out.indexOf('x-forwarded-for');
  assert.equal(out[xff + 1], '1.1.1.1, 2001:db8::7, _hidden, unknown, unknown, 10.0.0.1');
  // Its X-Forwarded-For beside it is its word on the client, as before; an untrusted client's Forwarded is nobody's.
  const both = buildUpstreamHeaders(['Forwarded', 'for=1.1.1.1', 'X-Forwarded-For', '2.2.2.2'], trusted);
  assert.equal(both[both.indexOf('x-forwarded-for') + 1], '2.2.2.2, 10.0.0.1');
  const untrusted = buildUpstreamHeaders(['Forwarded', 'for=1.1.1.1'], FACTS);
  assert.equal(untrusted[untrusted.indexOf('x-forwarded-for') + 1], '10.0.0.1');
});

test("a trusted proxy that wrote only Forwarded: its last element's host= is X-Forwarded-Host, as its proto= is X-Forwarded-Proto", () => {
  const trusted = { ...FACTS, trusted: true };
  const hostOf = (raw: string[], facts = trusted) => {
    const out = buildUpstreamHeaders(raw, facts);
    return out[out.indexOf('x-forwarded-host') + 1];
  };
  // The host its client asked for, which apps build links from: not the Host the proxy sent (its own name for the upstream).
  assert.equal(
    hostOf([
      'Host',
      'a.test',
      'Forwarded',
      'for=1.1.1.1;host=evil.test, for=2.2.2.2;host="shop.example:8443";proto=https',
    ]),
    'shop.example:8443',
  );
  // An element without host= says none: the Host stands.
  assert.equal(hostOf(['Host', 'a.test', 'Forwarded', 'for=1.1.1.1;host=x.test, for=2.2.2.2']), 'a.test');
  // Its X-Forwarded-Host beside it is its word, as before; an untrusted client's Forwarded is nobody's.
  assert.equal(
    hostOf(['Host', 'a.test', 'Forwarded', 'host=x.test', 'X-Forwarded-Host', 'y.test']),
    'y.test',
  );
  assert.equal(hostOf(['Host', 'a.test', 'Forwarded', 'host=x.test'], FACTS), 'a.test');
});

/**
 * Through a gateway, `candor diagnose` reads who made the answer from its Proxy-Status. A member
 * that names no error and no received-status is the gateway's own answer all the same (Candor's
 * 421: RFC 9209 has no type for a misdirected request), and an error type this version does not
 * know (a newer Candor's, another proxy's) was made by a proxy too: neither is "the upstream's
 * own answer, passed through". The gateway here is a server answering as those do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

test("a gateway's 421 whose Proxy-Status names no error is its own misdirected_request, not the upstream's", async (t) => {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const gateway = await listenOnLoopback((_req, res) => {
    res.writeHead(421, {
      'proxy-status': 'edge-1; details="the host shop.test is served under another certificate"',
    });
    res.end();
  });
  t.after(() => gateway.close());
  const report = await diagnose({ target: upstream.url, via: gateway.url });
  const verdict = report.via?.verdict;
  assert.equal(verdict?.outcome, 'failure');
  assert.equal(verdict?.failure?.type, 'misdirected_request');
  assert.equal(verdict?.status, 421);
  assert.match(
    verdict?.summary ?? '',
    /^the gateway answers 421: client \/ misdirected_request, from its Proxy-Status$/,
  );
});

test('an error type this version does not know was made by the proxy that names it, not passed through', async (t) => {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  t.after(() => upstream.close());
  const gateway = await listenOnLoopback((_req, res) => {
    res.writeHead(503, { 'proxy-status': 'edge-1; error=quota_exhausted_next; details="a later type"' });
    res.end();
  });
  t.after(() => gateway.close());
  const report = await diagnose({ target: upstream.url, via: gateway.url });
  const verdict = report.via?.verdict;
  assert.equal(verdict?.outcome, 'failure');
  assert.equal(verdict?.failure, null);
  assert.match(
    verdict?.summary ?? '',
    /^the gateway answers 503: error=quota_exhausted_next, a Proxy-Status type this version does not know/,
  );
  assert.doesNotMatch(verdict?.summary ?? '', /passes it through/);
});

test("a proxy's Proxy-Status that cannot be read is said to be malformed; no error, details or proxy name is made up from it", async (t) => {
  // An HAProxy-like peer whose details string is cut: read leniently, it said "cu" (the last
  // character taken for the closing quote) and connection_refused, a statement never made.
  const peer = await listenOnLoopback((_req, res) => {
    res.writeHead(502, { 'proxy-status': 'haproxy; error=connection_refused; details="cut' });
    res.end('bad gateway');
  });
  t.after(() => peer.close());
  const { verdict } = (await diagnose({ target: peer.url })).targets[0];
  assert.equal(verdict.outcome, 'upstream_error');
  assert.equal(
    verdict.summary,
    'the upstream answers, with its own 502 (its Proxy-Status is malformed, not read: "haproxy; error=connection_refused; details=\\"cut") → Candor passes it through (Proxy-Status received-status=502)',
  );
  assert.match(verdict.fix, /^the upstream itself reports the failure/);

  // A quoted member name holds its own ";": the proxy is named whole.
  const quoted = await listenOnLoopback((_req, res) => {
    res.writeHead(502, { 'proxy-status': '"edge; eu"; error=connection_timeout; next-hop="be1"' });
    res.end();
  });
  t.after(() => quoted.close());
  const named = (await diagnose({ target: quoted.url })).targets[0].verdict;
  assert.match(
    named.summary,
    /\(made by the proxy "edge; eu" there: connection_timeout for its next hop "be1"/,
  );
});

test("an upstream's Retry-After is told as its clients read it: one that is no delay-seconds nor HTTP date asks nothing, a date past asks no wait", async (t) => {
  const said = async (...values: string[]) => {
    const peer = await listenOnLoopback((_req, res) => {
      res.writeHead(503, [...values.flatMap((value) => ['Retry-After', value]), 'Content-Length', '0']);
      res.end();
    });
    t.after(() => peer.close());
    const { verdict } = (await diagnose({ target: peer.url })).targets[0];
    assert.equal(verdict.outcome, 'upstream_error');
    return verdict.fix.replace(
      /^the upstream itself reports the failure: read its own logs for this request \(x-request-id diagnose-[0-9a-f]+\)\./,
      '',
    );
  };
  assert.equal(await said('120'), ' It asks clients to retry after 120 s.');
  assert.equal(
    await said('Fri, 01 Jan 2100 00:00:00 GMT'),
    ' It asks clients to retry after Fri, 01 Jan 2100 00:00:00 GMT.',
  );
  assert.equal(
    await said('soon'),
    ' Its Retry-After "soon" is neither delay-seconds nor an HTTP date: clients ignore it.',
  );
  assert.equal(
    await said('Wed, 21 Oct 2015 07:28:00 GMT', '5'),
    ' Its Retry-After "Wed, 21 Oct 2015 07:28:00 GMT, 5" is neither delay-seconds nor an HTTP date: clients ignore it.',
  );
  assert.equal(
    await said('Wed, 21 Oct 2015 07:28:00 GMT'),
    ' Its Retry-After (Wed, 21 Oct 2015 07:28:00 GMT) is already past: clients may retry at once.',
  );
});

test("a 504 a CDN passed on from the load balancer behind it names the balancer that made it, not the CDN's own failure nor the upstream's", async (t) => {
  const cdn = await listenOnLoopback((_req, res) => {
    res.writeHead(504, {
      'proxy-status':
        'app-lb; error=connection_timeout; details="no answer in 5 s"; next-hop="10.0.0.7:80", cdn; received-status=504',
    });
    res.end();
  });
  t.after(() => cdn.close());
  const { verdict } = (await diagnose({ target: cdn.url })).targets[0];
  assert.equal(verdict.outcome, 'upstream_error');
  assert.equal(
    verdict.summary,
    'the upstream answers, with its own 504 (made by the proxy "app-lb" there: connection_timeout for its next hop "10.0.0.7:80", passed on by "cdn", from its Proxy-Status) → Candor passes it through (Proxy-Status received-status=504)',
  );
  assert.match(
    verdict.fix,
    /^the target \("cdn"\) passes on the answer of a proxy behind it \("app-lb"\) that could not reach its own next hop "10\.0\.0\.7:80": connection_timeout \(no answer in 5 s\)\. Fix that hop \(candor diagnose its address\), or read "app-lb"'s log for this request \(x-request-id diagnose-[0-9a-f]+\)\.$/,
  );

  // A member after it that passed on another status did not pass this answer on: no one is named.
  const other = await listenOnLoopback((_req, res) => {
    res.writeHead(502, { 'proxy-status': 'app-lb; error=connection_timeout, cdn; received-status=504' });
    res.end();
  });
  t.after(() => other.close());
  const mixed = (await diagnose({ target: other.url })).targets[0].verdict;
  assert.match(mixed.summary, /^the upstream answers, with its own 502 → Candor passes it through/);
});

/**
 * What the system resolver (getaddrinfo, which the connector and fetch use) says of a name, told
 * for what it is, against a real DNS server: the test's own on 127.0.0.1:53, named by the
 * resolv.conf of a mount and network namespace of the test's own (root: `unshare -mn`, as CI
 * runs). Node gives ENOTFOUND for a name that does not exist (NXDOMAIN) and for one that exists
 * without address records (NOERROR, no data) alike: Proxy-Status claims no rcode for it. A JWKS
 * endpoint whose name is never answered is the auth hop's dns_timeout, not a connect timeout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ownResolverSkip, withOwnResolver } from '../../helpers/own-resolver.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures/own-resolver.ts');
const BUSY_FIXTURE = join(import.meta.dirname, 'fixtures/busy-resolver.ts');

const skip = ownResolverSkip();

test('a name that does not exist and one without address records are both ENOTFOUND: 502 dns_error, no rcode claimed', {
  skip,
}, () => {
  const run = withOwnResolver(`exec "${process.execPath}" "${FIXTURE}" /nx /nodata`);
  assert.equal(run.status, 0, run.stderr);
  const answers = JSON.parse(run.stdout);
  for (const name of ['nx', 'nodata']) {
    assert.equal(answers[`/${name}`].status, 502, name);
    assert.match(
      answers[`/${name}`].proxyStatus,
      new RegExp(
        `^edge-1; error=dns_error; details="name does not resolve: no such name, or no address records for it \\(ENOTFOUND\\) after [\\d.]+ ms"; next-hop="${name}"$`,
      ),
    );
  }
});

test('a JWKS endpoint whose name lookup never ends is the hop’s 504 dns_timeout, not a connect timeout', {
  skip,
}, () => {
  const run = withOwnResolver(`exec "${process.execPath}" "${FIXTURE}" /jwt`);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout)['/jwt'], {
    status: 504,
    proxyStatus:
      'edge-1; error=dns_timeout; details="the JWKS endpoint: the name lookup did not finish within 5 s"; next-hop="auth:jwks"',
  });
});

test('a name never answered holds one of the resolver’s threads, not all of them: another upstream’s name still resolves', {
  skip,
}, () => {
  // getaddrinfo runs on libuv's 4 threads: a lookup per connection to a name whose DNS never
  // answers held all four, and a healthy upstream whose name answers at once got a 504
  // dns_timeout naming it, its circuit and outlier detection charged for another's DNS.
  // Lookups given 4 s: /good is asked once the six have failed (their 300 ms connect timeout),
  // and its own 2 s connect timeout ends before lookups holding all four threads would free one.
  const run = withOwnResolver(`UV_THREADPOOL_SIZE=4 exec "${process.execPath}" "${BUSY_FIXTURE}"`, 4);
  assert.equal(run.status, 0, run.stderr);
  const { hang, good } = JSON.parse(run.stdout);
  for (const answer of hang) {
    assert.equal(answer.status, 504);
    assert.equal(
      answer.proxyStatus,
      'edge-1; error=dns_timeout; details="name lookup not done after 300 ms"; next-hop="hang"',
    );
  }
  assert.deepEqual(good, { status: 200 });
});

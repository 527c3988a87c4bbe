/**
 * Proxy-Status (RFC 9209) and Cache-Status (RFC 9211) behind another proxy: an upstream that is
 * itself an intermediary answers with its own member(s), and the field that reaches the client
 * must parse with a strict RFC 8941 reader (test/helpers/structured-fields.ts, not the gateway's
 * own check), keep the upstream's members first, and end with this gateway's own — never a
 * member the upstream wrote in this gateway's name. A field the upstream broke is replaced.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AttemptReport, createFetch } from '../../../src/kits/client/index.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { memberOf, type SfMember, strictList } from '../../helpers/structured-fields.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** A gateway in front of an upstream answering every request with `status` and `fields` (raw lines). */
async function behind(status: number, fields: string, cache = false) {
  const upstream = await keep(
    startRawFault(async (c) => {
      for (;;) {
        await c.nextRequest();
        await c.write(`HTTP/1.1 ${status} X\r\n${fields}content-length: 2\r\n\r\nok`);
      }
    }),
  );
  return keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
${cache ? '    cache: {}\n' : ''}upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
`),
  );
}

function names(list: SfMember[]): string[] {
  return list.map((m) => memberOf(m).name);
}

/** The last member is this gateway's, saying what the upstream answered. */
function endsWithOwn(list: SfMember[], status: number): void {
  const own = memberOf(list.at(-1) as SfMember);
  assert.equal(own.name, 'edge-1');
  assert.equal(own.nameType, 'token');
  assert.deepEqual(own.params.get('received-status'), { type: 'integer', value: status });
  assert.equal(own.params.has('error'), false);
  assert.deepEqual(own.params.get('next-hop'), { type: 'string', value: 'app' });
}

const HUGE = `inner; error=http_protocol_error; details="${'x'.repeat(8000)}"`;

const PROXY_STATUS_CASES: ReadonlyArray<{
  readonly name: string;
  readonly status: number;
  readonly lines: readonly string[];
  /** The upstream's members kept, before this gateway's; null: no field goes (an answer under 500, this gateway has nothing to say). */
  readonly kept: readonly string[] | null;
}> = [
  {
    name: 'one member',
    status: 502,
    lines: ['inner; error=connection_refused; next-hop="db:5432"'],
    kept: ['inner'],
  },
  {
    name: 'two members',
    status: 503,
    lines: ['origin-lb; received-status=503, inner'],
    kept: ['origin-lb', 'inner'],
  },
  { name: 'two field lines', status: 504, lines: ['a; error=dns_timeout', '"b c"'], kept: ['a', 'b c'] },
  { name: 'an 8 KB member', status: 502, lines: [HUGE], kept: ['inner'] },
  { name: 'an unterminated string', status: 502, lines: ['inner; details="open'], kept: [] },
  { name: 'a member with no name', status: 502, lines: ['; error=x'], kept: [] },
  // Joined (RFC 9110 §5.3), `a, ` ends in a comma: no List (RFC 9651 §4.2), replaced whole.
  { name: 'an empty line after a good one', status: 502, lines: ['a', ''], kept: [] },
  // RFC 8941 §3.3.2: a decimal has at most 12 integer digits; a strict reader refuses 13.
  { name: 'a decimal of 13 integer digits', status: 502, lines: ['inner; x=1234567890123.5'], kept: [] },
  { name: 'an integer of 16 digits', status: 502, lines: ['inner; x=1234567890123456'], kept: [] },
  { name: 'a non-ASCII byte in a string', status: 502, lines: ['inner; details="caf\u00e9"'], kept: [] },
  // Below 500 too: the upstream's field goes on only with this gateway's member after it.
  { name: "a 200's member", status: 200, lines: ['inner; error=http_response_timeout'], kept: ['inner'] },
  { name: "a 404's broken field", status: 404, lines: ['inner; details="open'], kept: null },
  // The upstream names its member as this gateway: a client reads the last member, and that is ours.
  {
    name: "a 429 in this gateway's name",
    status: 429,
    lines: ['edge-1; error=http_request_denied'],
    kept: ['edge-1'],
  },
  {
    name: "a 503 in this gateway's name",
    status: 503,
    lines: ['edge-1; error=connection_limit_reached'],
    kept: ['edge-1'],
  },
];

for (const { name, status, lines, kept } of PROXY_STATUS_CASES)
  test(`an upstream's Proxy-Status (${name}) on its ${status}: strict, its members kept, this gateway's last`, async () => {
    const fields = lines.map((line) => `Proxy-Status: ${line}\r\n`).join('');
    const gw = await behind(status, fields);
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, status);
    if (kept === null) return assert.equal(res.headers['proxy-status'], undefined);
    const list = strictList(res.headers['proxy-status']);
    assert.deepEqual(names(list), [...kept, 'edge-1']);
    endsWithOwn(list, status);
  });

test("candor/client does not resend a POST whose upstream's own 429 names this gateway's refusal: the last member is the gateway's received-status", async () => {
  let posts = 0;
  const upstream = await keep(
    startRawFault(async (c) => {
      for (;;) {
        await c.nextRequest({ body: true });
        posts++;
        await c.write(
          'HTTP/1.1 429 X\r\nProxy-Status: edge-1; error=http_request_denied\r\ncontent-length: 0\r\n\r\n',
        );
      }
    }),
  );
  const gw = await keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
`),
  );
  const reports: AttemptReport[] = [];
  const client = createFetch({ backoff: { base: 1, cap: 5 }, onAttemptFailed: (r) => reports.push(r) });
  const res = await client(`${gw.url}/orders`, { method: 'POST', body: '{"sku":1}' });
  await res.arrayBuffer();
  assert.equal(res.status, 429);
  assert.equal(posts, 1, 'the upstream processed the POST once');
  assert.equal(reports.length, 1);
  assert.equal(reports[0].proxyStatus?.receivedStatus, 429);
  assert.equal(reports[0].retry, false);
});

test('an upstream that sends no Proxy-Status on its 200 gets none added', async () => {
  const gw = await behind(200, '');
  const res = await request(gw.url, { path: '/x' });
  assert.equal(res.headers['proxy-status'], undefined);
});

const CACHE_STATUS_CASES: ReadonlyArray<{
  readonly name: string;
  readonly lines: readonly string[];
  readonly kept: readonly string[];
}> = [
  { name: 'one member', lines: ['cdn; hit; ttl=30'], kept: ['cdn'] },
  {
    name: 'two lines',
    lines: ['origin-cache; fwd=uri-miss', 'cdn; fwd=stale; fwd-status=200'],
    kept: ['origin-cache', 'cdn'],
  },
  { name: 'an unterminated string', lines: ['cdn; detail="open'], kept: [] },
  { name: 'a key in capitals', lines: ['cdn; HIT'], kept: [] },
];

for (const { name, lines, kept } of CACHE_STATUS_CASES)
  test(`an upstream's Cache-Status (${name}): strict, its members kept, this gateway's last on a miss and on the hit after`, async () => {
    const fields = lines.map((line) => `Cache-Status: ${line}\r\n`).join('');
    const gw = await behind(200, `${fields}Cache-Control: max-age=60\r\n`, true);
    const miss = await request(gw.url, { path: '/x' });
    assert.equal(miss.status, 200);
    const missList = strictList(miss.headers['cache-status']);
    assert.deepEqual(names(missList), [...kept, 'edge-1']);
    assert.deepEqual(memberOf(missList.at(-1) as SfMember).params.get('fwd'), {
      type: 'token',
      value: 'uri-miss',
    });
    const hit = await request(gw.url, { path: '/x' });
    const hitList = strictList(hit.headers['cache-status']);
    assert.deepEqual(names(hitList), [...kept, 'edge-1']);
    assert.deepEqual(memberOf(hitList.at(-1) as SfMember).params.get('hit'), {
      type: 'boolean',
      value: true,
    });
  });

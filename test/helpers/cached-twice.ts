import assert from 'node:assert/strict';
import { type ClientResponse, request } from './http-client.ts';
import { startMoodyOrigin } from './moody-origin.ts';
import { cachedPages, startTestGateway } from './test-gateway.ts';

/**
 * The cached route `pages` (cachedPages) before an origin answering 200 with these fields and
 * `body`: a first request stores what may be stored, then `asked` (the second request's fields)
 * shows how the store reads it. Returns that second answer and the requests the origin got.
 */
export async function cachedTwice(
  fields: readonly string[],
  asked: Record<string, string> = {},
  body = 'page',
  status = 200,
): Promise<{ again: ClientResponse; upstream: number }> {
  const origin = await startMoodyOrigin({ status, fields: [...fields], body });
  try {
    const gw = await startTestGateway(cachedPages(origin.url));
    try {
      await request(gw.url, { path: '/pages/a' });
      const again = await request(gw.url, { path: '/pages/a', headers: asked });
      return { again, upstream: origin.heads.length };
    } finally {
      await gw.close();
    }
  } finally {
    await origin.stop();
  }
}

/**
 * `again` is a hit whose ttl and Age make `lifetime` (seconds; each rounded, so one either way),
 * Age no more than the test's clock says since the answer's `date`: the lifetime read, whatever
 * the second `date` fell in and the machine's pace (a ttl alone moved with both: `Date` counts
 * from the end of its second, and the gateway's start came between it and the store).
 */
export function assertHitOf(again: ClientResponse, lifetime: number, date: string): void {
  const status = /^edge-1; hit; ttl=(\d+)$/.exec(String(again.headers['cache-status']));
  assert.ok(status, String(again.headers['cache-status']));
  assert.match(String(again.headers.age), /^\d+$/);
  const age = Number(again.headers.age);
  const since = (Date.now() - Date.parse(date)) / 1000;
  assert.ok(age <= Math.ceil(since), `Age ${age}, ${since} s since ${date}`);
  assert.ok(
    Math.abs(Number(status[1]) + age - lifetime) <= 1,
    `${status[0]}, Age ${age}: ${lifetime} s of freshness`,
  );
}

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

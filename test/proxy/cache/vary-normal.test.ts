/**
 * The fields a stored answer's Vary names match a later request's when one is the other with
 * whitespace added or removed where the field's syntax allows it, or normalised where its values
 * are case-insensitive (RFC 9111 §4.1): `gzip,br` and `GZip, br` ask for what `gzip, br` asked for.
 * A list's order is kept: `br, gzip` may be read otherwise (a server preferring the first), and is
 * another variant.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

async function varying(t: { after(fn: () => unknown): void }, field: string) {
  let made = 0;
  const up = await listenOnLoopback((req, res) => {
    made += 1;
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: field });
    res.end(`#${made} for ${req.headers[field.toLowerCase()]}`);
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  return (value: string) => request(gw.url, { path: '/pages/v', headers: { [field]: value } });
}

test('Accept-Encoding spelled with other whitespace or case is the stored variant: a hit', async (t) => {
  const get = await varying(t, 'Accept-Encoding');
  assert.equal((await get('gzip, br')).headers['cache-status'], 'edge-1; fwd=uri-miss');
  for (const spelled of ['gzip,br', ' GZip ,  BR ', 'gzip, , br']) {
    const res = await get(spelled);
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/, spelled);
    assert.equal(res.text, '#1 for gzip, br');
  }
  // Another order is another variant.
  const other = await get('br, gzip');
  assert.equal(other.headers['cache-status'], 'edge-1; fwd=vary-miss');
  assert.equal(other.text, '#2 for br, gzip');
});

test('Accept-Language with other whitespace or case is the stored variant', async (t) => {
  const language = await varying(t, 'Accept-Language');
  await language('en-GB, fr;q=0.5');
  const spelled = await language('EN-gb,fr ; q=0.5');
  assert.match(String(spelled.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
});

test('Accept with other whitespace is the stored variant, with another case of a parameter another', async (t) => {
  const accept = await varying(t, 'Accept');
  await accept('text/html, application/json;charset=utf-8');
  const spaced = await accept('text/html,application/json;charset=utf-8');
  assert.match(String(spaced.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  const cased = await accept('text/html, application/json;charset=UTF-8');
  assert.equal(cased.headers['cache-status'], 'edge-1; fwd=vary-miss');
});

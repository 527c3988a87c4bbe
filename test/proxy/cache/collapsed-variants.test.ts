/**
 * A herd of misses of one key that asks for two variants of a `Vary` answer (Accept-Encoding:
 * gzip and br, Accept-Language: en and fr) reaches the upstream once a variant, not once a
 * request of the second: the requests that waited for the first fetch and found it another
 * variant's wait for the one fetch of theirs that one of them starts (RFC 9111 §4: a request
 * collapsed into a fetch made after it came is answered by the origin as much as its own). They
 * each went upstream at once: 5 misses of the second variant made 5 upstream requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("the misses of a Vary answer's second variant wait for one fetch of theirs: one upstream request a variant", async (t) => {
  const asked: string[] = [];
  let release: (() => void) | undefined;
  const up = await listenOnLoopback((req, res) => {
    const language = String(req.headers['accept-language']);
    asked.push(language);
    const answer = () => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Accept-Language' });
      res.end(`page in ${language}`);
    };
    // The first fetch is held until the herd has come and waits for it.
    if (asked.length === 1) release = answer;
    else answer();
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  const get = (language: string) =>
    request(gw.url, { path: '/pages/v', headers: { 'accept-language': language } });
  const lead = get('en');
  await waitUntil('the first fetch reaches the upstream', () => release !== undefined);
  const french = Array.from({ length: 5 }, () => get('fr'));
  const english = Array.from({ length: 2 }, () => get('en'));
  // The herd reaches the gateway and waits for the first fetch (it never reaches the upstream).
  await new Promise((resolve) => setTimeout(resolve, 300));
  release?.();
  assert.equal((await lead).headers['cache-status'], 'edge-1; fwd=uri-miss');
  for (const res of await Promise.all(english)) {
    assert.equal(res.text, 'page in en');
    assert.match(String(res.headers['cache-status']), /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/);
  }
  const answers = await Promise.all(french);
  for (const res of answers) assert.equal(res.text, 'page in fr');
  // One of them fetched its variant; the others were collapsed into that fetch.
  const said = answers.map((res) => String(res.headers['cache-status']));
  assert.equal(said.filter((s) => s === 'edge-1; fwd=vary-miss').length, 1, said.join(' | '));
  assert.equal(
    said.filter((s) => /^edge-1; fwd=uri-miss; ttl=\d+; collapsed$/.test(s)).length,
    4,
    said.join(' | '),
  );
  assert.deepEqual(asked, ['en', 'fr']);
});

test("the misses of a Vary answer's third variant wait out the second's fetch, then for one of theirs: one upstream request a variant", async (t) => {
  const asked: string[] = [];
  let release: (() => void) | undefined;
  const up = await listenOnLoopback((req, res) => {
    const language = String(req.headers['accept-language']);
    asked.push(language);
    const answer = () => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Accept-Language' });
      res.end(`page in ${language}`);
    };
    if (asked.length === 1) release = answer;
    else answer();
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  const get = (language: string) =>
    request(gw.url, { path: '/pages/v', headers: { 'accept-language': language } });
  const lead = get('en');
  await waitUntil('the first fetch reaches the upstream', () => release !== undefined);
  // fr and de in turn: whichever variant's fetch starts second, the other's misses find it under way.
  const herd = ['fr', 'de', 'fr', 'de', 'fr', 'de', 'en'];
  const answers = herd.map((language) => get(language));
  await new Promise((resolve) => setTimeout(resolve, 300));
  release?.();
  assert.equal((await lead).text, 'page in en');
  const texts = (await Promise.all(answers)).map((res) => res.text);
  assert.deepEqual(
    texts,
    herd.map((language) => `page in ${language}`),
  );
  // Each of fr and de went upstream once (each de went alone before: en, fr, de, de, de).
  assert.deepEqual(asked.toSorted(), ['de', 'en', 'fr'], asked.join(', '));
});

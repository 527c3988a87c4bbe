/**
 * A herd of misses of a `Vary` answer's two variants spread over both workers of a real `candor
 * serve --workers 2` (their shared folder, fill-lock.ts) reaches the upstream once a variant, as
 * it does in one worker (test/proxy/cache/collapsed-variants.test.ts). Each worker's requests that
 * waited for the first fetch and found another variant's went upstream without the key's lock
 * again, and the worker that waited on the other's lock kept its own waiters on its fetch of
 * another variant: 20 requests for `en` and `fr` made 4 upstream requests, one a variant a worker.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';

test('concurrent misses of two variants of a Vary answer in both workers make one upstream request a variant', async (t) => {
  const asked: string[] = [];
  // Every answer after 800 ms: each fetch outlasts the herd's coming, and the second's the first's end.
  const origin = http.createServer((req, res) => {
    const language = String(req.headers['accept-language']);
    asked.push(language);
    req.resume();
    setTimeout(() => {
      res.writeHead(200, {
        'cache-control': 'max-age=600',
        vary: 'Accept-Language',
        'content-type': 'text/plain',
      });
      res.end(`page in ${language}`);
    }, 800);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const serve = await serveCachedPages(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  // Twenty clients at once, each on a connection of its own (the workers take them in turn),
  // asking for en and fr in turn: each worker gets some of both.
  const languages = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'en' : 'fr'));
  const answers = await Promise.all(
    languages.map((language, i) =>
      request(base, {
        path: '/pages/v',
        headers: { host: 'pages.test', 'accept-language': language, 'x-request-id': `${language}-${i}` },
      }),
    ),
  );
  assert.deepEqual(
    answers.map((a) => [a.status, a.text]),
    languages.map((language) => [200, `page in ${language}`]),
  );
  // One fetch a variant; what each request was told, for a failure's message.
  await serve.waitForLines('request', 20);
  const told = serve.lines
    .filter((l) => l.msg === 'request')
    .map((l) => `${l.client_req_id}: ${l.cache}, ${l.attempts} attempt(s)`);
  assert.deepEqual(
    asked.toSorted(),
    ['en', 'fr'],
    `upstream requests: ${asked.join(', ')}\n${told.join('\n')}`,
  );
});

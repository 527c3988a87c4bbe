/**
 * Label cardinality under attack: a client sprays distinct Hosts, paths and methods, and an
 * upstream answers with every status it can make up. No label takes a client's text (a method
 * the gateway does not know is refused, 501, and labelled `_OTHER`), an upstream's status is a
 * label only within RFC 9110's 100–599 (anything else is its 502 `http_protocol_error`), and
 * the exposition stays valid Prometheus text, a route name's `"` and `\` escaped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { samples, scrape } from './scrape.ts';

test('distinct hosts, paths, methods and upstream statuses: the series stay bounded, the labels hold none of their text', async () => {
  // The status the upstream answers is the request's path: /s/NNN.
  const origin = await scriptedUpstream((socket, req) =>
    socket.end(
      `HTTP/1.1 ${/^\S+ \/s\/(\S+)/.exec(req.head)?.[1]} Made"Up\\Reason\r\ncontent-length: 0\r\n\r\n`,
    ),
  );
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - name: 'r"q\\b'
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${origin.url}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
  const statuses = ['200', '299', '404', '418', '599', '600', '999', '000', '2000', 'abc'];
  try {
    for (const [i, status] of statuses.entries())
      await rawRequest(
        gw.port,
        `GET /s/${status} HTTP/1.1\r\nhost: host-${i}.example\r\nconnection: close\r\n\r\n`,
      );
    for (let i = 0; i < 20; i++)
      await rawRequest(
        gw.port,
        `METHOD${i} /s/200?q=${i} HTTP/1.1\r\nhost: spray-${i}\r\nconnection: close\r\n\r\n`,
      );
    await gw.accessLine(statuses.length + 20);
    const { text } = await scrape(gw.gateway.metricsPort() as number);
    assert.doesNotMatch(text, /host-\d|spray-|METHOD\d|Made|q=/);
    const all = samples(text);
    const responses = all
      .filter((s) => s.name === 'candor_responses_total')
      .map((s) => `${s.labels.route} ${s.labels.code} ${s.labels.origin} ${s.labels.error_type} ${s.value}`)
      .sort();
    assert.deepEqual(responses, [
      ' 501 gateway http_request_error 20',
      'r"q\\b 200 upstream  1',
      'r"q\\b 299 upstream  1',
      'r"q\\b 404 upstream  1',
      'r"q\\b 418 upstream  1',
      'r"q\\b 502 gateway http_protocol_error 5',
      'r"q\\b 599 upstream  1',
    ]);
    assert.match(text, /route="r\\"q\\\\b"/);
  } finally {
    await gw.close();
    await origin.close();
  }
});

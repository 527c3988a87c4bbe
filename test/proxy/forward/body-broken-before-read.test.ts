/**
 * A request body that breaks while the request waits for its admission (here a forward-auth
 * service that takes its time) is answered as soon as the request goes on: the body's error
 * came when nobody read it, and the read that began later waited for one that never came
 * (no answer at all until the client gave up).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { forwardAuthConfig, startAuthService, startAuthStage } from '../../helpers/auth-service.ts';
import {
  assertUpstreamSawNothing,
  hasFinalResponse,
  parseRaw,
  RawClient,
} from '../accept/downstream-fixture.ts';

for (const buffering of [true, false]) {
  test(`a chunk size broken while forward auth is asked: 400 once it answers (request_buffering: ${buffering})`, async (t) => {
    const service = await startAuthService((_req, res) => setTimeout(() => res.end('ok'), 300));
    const stage = await startAuthStage((app) =>
      forwardAuthConfig(app, `{ url: "${service.url}" }`).replace(
        '    upstream: app\n',
        `    upstream: app\n    request_buffering: ${buffering}\n`,
      ),
    );
    t.after(() => stage.close(service));
    const client = await RawClient.connect(stage.gw.port);
    t.after(() => client.destroy());
    client.write(
      'POST /app HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Request-Id: broken\r\n\r\n',
    );
    // While the auth service is still deciding.
    await sleep(100);
    client.write('zz\r\n');
    await client.until(hasFinalResponse);
    const res = parseRaw(client.received);
    assert.equal(res.status, 400);
    assert.equal(res.headers.connection, 'close');
    const line = await stage.gw.logFor('broken');
    assert.equal(line.status, 400);
    assert.equal(line.error, 'http_request_error');
    assert.match(String(line.details), /HPE_INVALID_CHUNK_SIZE/);
    assert.equal(service.asked.length, 1);
    assertUpstreamSawNothing(stage);
  });
}

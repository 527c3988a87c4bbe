/**
 * A plugin that starts reading the body (`request.body()`, not awaited) and answers at once: the
 * request is over before the body was read, by the gateway's doing. The read it left is told
 * (a warn line naming the plugin) as what happened, never as the client leaving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startPluginGateway } from '../../helpers/plugin-gateway.ts';
import type { TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const FORGOTTEN = 'body() failed and the plugin never took its failure (no await, no catch)';

const hasty: Plugin = () => ({
  onRequest(request) {
    request.body();
    return { status: 202, body: 'taken' };
  },
});

describe('a plugin that starts a body read and answers before it ended', () => {
  let app: Fault;
  let gw: TestGateway;
  before(async () => {
    ({ app, gw } = await startPluginGateway('hasty', hasty));
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("the plugin's answer goes; the read it left is told as answered first, not as the client leaving", async () => {
    const res = await request(gw.url, { method: 'POST', body: 'x'.repeat(200_000), timeoutMs: 5000 });
    assert.deepEqual([res.status, res.text], [202, 'taken']);
    const id = String(res.headers['x-request-id']);
    const access = await gw.logFor(id);
    assert.deepEqual(
      [access.status, access.client_aborted, access.answered_by],
      [202, false, 'plugin:hasty'],
    );
    await waitUntil('the left read told', () => gw.logs.some((l) => l.msg === FORGOTTEN && l.req_id === id));
    const told = gw.logs.find((l) => l.msg === FORGOTTEN && l.req_id === id);
    assert.equal(told?.plugin, 'hasty');
    assert.doesNotMatch(String(told?.err), /client/);
    assert.match(String(told?.err), /answered before its body was read/);
  });
});

/**
 * A plugin's own bug (it threw in a hook: the gateway's 500 naming it, no attempt made) is
 * counted at the plugin, and `candor explain` says it is the plugin's, not the gateway's nor the
 * route's upstream's. A plugin's hop that failed (`plugin_hop`: the upstream its `context.fetch` asked, down) answered
 * the request before the route's upstream was asked: Candor's line names that hop and no
 * `upstream`. `candor explain` counts the failure at the upstream that failed, never at the
 * route's (issue 32: every answer of the tools is true).
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RequestLine } from '../../../src/kits/explain/log-record.ts';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { runExplain } from './explain-fixture.ts';

/** A gateway's line for a plugin's refused hop, as `candor serve` wrote it. */
const HOP_FAILED =
  '{"level":"warn","time":"2026-11-26T17:12:51.131Z","gateway":"candor","req_id":"de5aa05e-df99-41c1-b296-e260dad8e48b","trace_id":"62c146f2813c8f67de44b45d224aca2f","client":"127.0.0.1","method":"GET","host":"127.0.0.1:21014","path":"/x","protocol":"HTTP/1.1","route":"r","plugin_hop":"svc","status":502,"error":"connection_refused","shape":"unreachable","flag":"UF","stage":"not_sent","details":"connection refused (ECONNREFUSED) after 0.3 ms","bytes_in":61,"bytes_out":0,"total_ms":52.28,"upstream_reset":false,"client_aborted":false,"attempts":0,"msg":"request"}';

test("a plugin's hop that failed is counted at that upstream, not the route's", () => {
  const line = candorReader.read(HOP_FAILED) as RequestLine;
  assert.deepEqual(
    [line.kind, line.upstream, line.failure, line.producedBy],
    ['request', 'svc', 'connection_refused', 'proxy'],
  );
  // After the route's upstream answered (a plugin's onResponse), the hop is still the one that failed.
  const after = HOP_FAILED.replace('"plugin_hop":"svc",', '"plugin_hop":"svc","upstream":"app",');
  assert.equal((candorReader.read(after) as RequestLine).upstream, 'svc');
});

/** A gateway's line for a plugin that threw in onRequest (no attempt: the route's upstream never asked). */
const PLUGIN_THREW = HOP_FAILED.replace('"plugin_hop":"svc",', '"upstream":"echo",')
  .replace(
    '"status":502,"error":"connection_refused","shape":"unreachable","flag":"UF"',
    '"status":500,"error":"proxy_internal_error","shape":"internal","flag":"PIE"',
  )
  .replace(
    '"details":"connection refused (ECONNREFUSED) after 0.3 ms"',
    '"details":"plugin:p-throw threw in onRequest"',
  )
  .replace('"level":"warn"', '"level":"error"');

test("a plugin's own bug is counted at the plugin, and explain sends the operator to it, not to the upstream nor a gateway bug report", async () => {
  const line = candorReader.read(PLUGIN_THREW) as RequestLine;
  assert.deepEqual([line.upstream, line.failure], ['plugin:p-throw', 'proxy_internal_error']);
  const dir = tempDir('candor-explain-plugin-');
  try {
    const file = join(dir, 'candor.log');
    writeFileSync(file, `${Array(20).fill(PLUGIN_THREW).join('\n')}\n`);
    const { code, stdout } = await runExplain([file]);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /internal: a plugin's bug +20/);
    assert.match(stdout, /A plugin's bug \(plugin:p-throw threw or overran its time in a hook\)/);
    assert.doesNotMatch(stdout, /echo/);
    assert.doesNotMatch(stdout, /report it with the request id/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * `candor explain` reads how long an upstream made a request wait from the line's `ttfb_ms` (or
 * `total_ms`), which counts the waits on no upstream too: a hold's (`held_ms`) and, since the
 * line says it, the retries' backoffs (`backoff_ms`). Both are taken out, so a request refused
 * once, retried after a second's backoff and answered in 250 ms is an upstream that answers in
 * 250 ms, not in 1.25 s (issue 32: every answer of the tools is true).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestLine } from '../../../src/kits/explain/log-record.ts';
import { candorReader } from '../../../src/kits/explain/readers/candor-reader.ts';

/** A gateway's line for a request refused once, then answered after its backoff, as `candor serve` writes it. */
const RETRIED =
  '{"level":"info","time":"2026-11-28T13:40:02.118Z","gateway":"candor","req_id":"5d1c2a40-7a43-4b7e-9a11-2f0b3c7e9d10","trace_id":"8a1f0c6e2b3d4f5a6b7c8d9e0f1a2b3c","client":"127.0.0.1","method":"GET","host":"127.0.0.1:20811","path":"/x","protocol":"HTTP/1.1","route":"/","upstream":"app","target":"http://127.0.0.1:20812","status":200,"bytes_in":61,"bytes_out":2,"connect_ms":0.4,"ttfb_ms":1250.3,"total_ms":1250.9,"upstream_reset":false,"client_aborted":false,"attempts":2,"tries":[{"target":"http://127.0.0.1:20813","error":"connection_refused","stage":"not_sent","ms":0.5},{"target":"http://127.0.0.1:20812","status":200,"ms":249.6}],"backoff_ms":1000.1,"msg":"request"}';

test("the retries' backoff is no wait on the upstream: taken out of ttfb_ms, as a hold's is", () => {
  const line = candorReader.read(RETRIED) as RequestLine;
  assert.equal(line.kind, 'request');
  assert.equal(Math.round(line.waitMs as number), 250);
  // With a hold before it too, both come out.
  const held = candorReader.read(
    RETRIED.replace('"backoff_ms":1000.1', '"backoff_ms":1000.1,"held_ms":200'),
  ) as RequestLine;
  assert.equal(Math.round(held.waitMs as number), 50);
  // A line of before backoff_ms (or none was waited out) reads as it did.
  const without = candorReader.read(RETRIED.replace(',"backoff_ms":1000.1', '')) as RequestLine;
  assert.equal(Math.round(without.waitMs as number), 1250);
});

/**
 * Every failure type of the taxonomy, as Candor logs it, is counted somewhere in `candor
 * explain`'s report, and where it belongs: in one shape row (the clients' own doings with the
 * clients'), against its upstream only when it says something of it, and a client's own deadline
 * with the client's deadlines, told where it cut the request. Walks FAILURE_TYPES, so a type
 * added to the table is held too. Before, `client_deadline_connecting` was left out of the
 * client-deadline tally (no Timeouts finding named it), and a client's deadline that cut a body
 * mid-stream was told as one "waiting for the response head".
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { GRPC_CODES } from '../../../src/core/failure/grpc-codes.ts';
import {
  CLIENTS_DOING,
  FAILURE_TYPES,
  FAILURES,
  type FailureType,
} from '../../../src/core/failure/taxonomy.ts';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { isClientsDoing, saysNothingOfUpstream } from '../../../src/kits/explain/tally.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain } from './explain-fixture.ts';

/** A deadline the client chose: what only a client's own deadline type is. */
const clientsDeadline = (type: FailureType) =>
  CLIENTS_DOING.has(type) && FAILURES[type].grpc === GRPC_CODES.DEADLINE_EXCEEDED;

/** The details and stage Candor logs for a type (a client's deadline names its grpc-timeout). */
function detailsOf(type: FailureType): { details: string; stage: string } {
  if (type === 'client_deadline_connecting')
    return { details: "no connection made within the client's grpc-timeout of 150 ms", stage: 'not_sent' };
  if (type === 'client_deadline')
    return { details: "no response head within the client's grpc-timeout of 150 ms", stage: 'sent' };
  return { details: `a ${type}`, stage: FAILURES[type].furthestStage };
}

/** One Candor access-log line for `type`, on an upstream of its own named after it. */
function lineOf(type: FailureType, upstream = `up-${type}`, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    level: 'warn',
    time: '2026-11-21T13:11:00.657Z',
    gateway: 'edge-1',
    req_id: `req-${upstream}`,
    method: 'POST',
    path: '/pkg.Svc/Call',
    upstream,
    target: `http://${upstream}.internal:80`,
    status: FAILURES[type].status,
    error: type,
    ...detailsOf(type),
    total_ms: 150,
    msg: 'request',
    ...extra,
  });
}

let report: Report;
let text: string;

before(async () => {
  const lines = FAILURE_TYPES.map((type) => lineOf(type));
  // A client's deadline that cut the body of an answer whose head had gone on.
  lines.push(
    lineOf('client_deadline', 'mid-body', {
      status: 200,
      stage: 'body_streaming',
      details: "client's grpc-timeout of 200 ms reached while streaming the body",
    }),
  );
  const file = join(tempDir('candor-explain-walk-'), 'candor.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  report = await explain([file]);
  text = renderText(report);
});

test('every failure type is counted once, in one shape row: the clients’ own doings with the clients’', () => {
  for (const type of FAILURE_TYPES) {
    const rows = report.shapes.filter((shape) => shape.types.some((t) => t.type === type));
    assert.equal(rows.length, 1, type);
    assert.equal(rows[0].shape, isClientsDoing(type) ? 'client' : FAILURES[type].shape, type);
    const row = rows[0].types.find((t) => t.type === type);
    assert.equal(row?.requests, type === 'client_deadline' ? 2 : 1, type);
  }
});

test("every failure type counts against its upstream only when it says something of it: never a client's doing, nor the gateway's refusal of a client", () => {
  for (const type of FAILURE_TYPES) {
    const upstream = report.upstreams.find((u) => u.name === `up-${type}`);
    assert.ok(upstream, type);
    assert.equal(upstream.requests, 1, type);
    assert.equal(upstream.failures, saysNothingOfUpstream(type) ? 0 : 1, type);
    // The refusals of a client (401, 403, 429) stay in the gateway's row of the shape table.
    if (type === 'http_request_denied') assert.equal(FAILURES[type].shape, 'gateway');
  }
});

test("every client's own deadline is told with the clients' deadlines, where it cut the request; a gateway's head timeout as a timeout", () => {
  for (const type of FAILURE_TYPES) {
    const finding = report.timeouts.find((t) => t.upstream === `up-${type}`);
    if (clientsDeadline(type)) {
      assert.equal(finding?.verdict, 'client_deadline', type);
      assert.equal(finding?.timeouts, 0, type);
      const where = type === 'client_deadline_connecting' ? 'notSent' : 'head';
      assert.deepEqual(
        finding?.clientDeadlines,
        { count: 1, minMs: 150, maxMs: 150, notSent: 0, head: 0, body: 0, [where]: 1 },
        type,
      );
    } else if (type === 'http_response_timeout') assert.equal(finding?.timeouts, 1, type);
    else assert.equal(finding, undefined, type);
  }
  const section = text.split('\n\n').find((part) => part.startsWith('Timeouts')) ?? '';
  assert.match(
    section,
    /\n {2}up-client_deadline_connecting: 1 gRPC request ran out of the client's own deadline \(grpc-timeout of 150 ms\) before anything was sent\n/,
  );
  assert.match(
    section,
    /\n {2}up-client_deadline: 1 gRPC request ran out of the client's own deadline \(grpc-timeout of 150 ms\) waiting for the response head\n/,
  );
  assert.match(
    section,
    /\n {2}mid-body: 1 gRPC request ran out of the client's own deadline \(grpc-timeout of 200 ms\) while the response body streamed\n/,
  );
});

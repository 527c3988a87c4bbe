import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestIdsFor } from '../../../src/core/ids/ids.ts';
import { continueOrStartTrace, notSampled } from '../../../src/core/ids/traceparent.ts';

test('a valid traceparent is continued with a fresh span id', () => {
  const trace = continueOrStartTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
  assert.equal(trace.continued, true);
  assert.equal(trace.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.match(trace.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
  assert.notEqual(trace.spanId, '00f067aa0ba902b7');
  assert.equal(trace.parentId, '00f067aa0ba902b7');
  assert.equal(trace.sampled, false);
});

test("the client's sampled flag is bit 0 of its flags; a new trace is sampled", () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7';
  assert.equal(continueOrStartTrace(`00-${id}-01`).sampled, true);
  assert.equal(continueOrStartTrace(`00-${id}-03`).sampled, true);
  assert.equal(continueOrStartTrace(`00-${id}-02`).sampled, false);
  const started = continueOrStartTrace(undefined);
  assert.equal(started.sampled, true);
  assert.equal(started.parentId, undefined);
});

test('the flags go on as version 00 defines them: sampled and random kept, the reserved bits zero', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7';
  const sent = (traceparent: string) => continueOrStartTrace(traceparent).traceparent.slice(-3);
  assert.deepEqual(
    ['00', '01', '02', '03', '09', 'fc', 'ff'].map((flags) => sent(`00-${id}-${flags}`)),
    ['-00', '-01', '-02', '-03', '-01', '-00', '-03'],
  );
  // A later version's header is continued as version 00: its flags held to version 00's.
  assert.equal(continueOrStartTrace(`01-${id}-f5-more`).traceparent.slice(-3), '-01');
  assert.equal(continueOrStartTrace(`00-${id}-08`).sampled, false);
});

test('a trace not recorded: the sampled flag off, the ids and the random flag kept', () => {
  const id = '4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7';
  const continued = continueOrStartTrace(`00-${id}-03`);
  const dropped = notSampled(continued);
  assert.equal(dropped.traceparent, `${continued.traceparent.slice(0, -2)}02`);
  assert.deepEqual(
    [dropped.traceId, dropped.spanId, dropped.parentId, dropped.continued, dropped.sampled],
    [continued.traceId, continued.spanId, continued.parentId, true, false],
  );
  const started = continueOrStartTrace(undefined);
  assert.equal(notSampled(started).traceparent, `${started.traceparent.slice(0, -2)}00`);
  assert.equal(notSampled(started).spanId, started.spanId);
});

test('invalid traceparents start a new trace', () => {
  for (const bad of [
    undefined,
    'garbage',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    // Two traceparent lines, joined as one list (fieldMap): which one is the parent is not to be guessed.
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01, 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01',
    'cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later, cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01',
  ]) {
    const trace = continueOrStartTrace(bad);
    assert.equal(trace.continued, false, String(bad));
    assert.match(trace.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  }
});

test('request ids from trusted proxies are kept only when safe to echo', () => {
  assert.deepEqual(requestIdsFor('abc-123_x.y:z', true), { id: 'abc-123_x.y:z', clientId: undefined });
  for (const bad of ['', 'has space', 'quote"d', 'x'.repeat(201), 'new\nline']) {
    const ids = requestIdsFor(bad, true);
    assert.match(ids.id, /^[0-9a-f-]{36}$/, JSON.stringify(bad));
    assert.equal(ids.clientId, undefined, 'an unsafe id is not logged either');
  }
});

test("an untrusted client's id is not adopted: a new one is made, the client's kept for the log", () => {
  const ids = requestIdsFor('abc-123', false);
  assert.match(ids.id, /^[0-9a-f-]{36}$/);
  assert.equal(ids.clientId, 'abc-123');
  assert.deepEqual(requestIdsFor(undefined, false).clientId, undefined);
});

test('a request id the gateway makes is a random version 4 UUID, each one its own', () => {
  const seen = new Set<string>();
  // Past the random pool's 4 KiB, so that its refill is crossed too.
  for (let i = 0; i < 600; i++) {
    const { id } = requestIdsFor(undefined, false);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 600);
});

test("a new trace's ids are the ones its traceparent carries, each trace its own", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const trace = continueOrStartTrace(undefined);
    assert.match(trace.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.equal(trace.traceparent, `00-${trace.traceId}-${trace.spanId}-01`);
    seen.add(trace.traceId);
  }
  assert.equal(seen.size, 600);
});

test("a new trace's ids are its traceparent's, the span id read off it when asked for, the same each time", () => {
  const started = continueOrStartTrace(undefined);
  const [version, traceId, spanId, flags] = started.traceparent.split('-');
  assert.deepEqual([version, flags], ['00', '01']);
  assert.equal(started.traceId, traceId);
  assert.equal(started.spanId, spanId);
  assert.equal(started.spanId, spanId);
  assert.notEqual(continueOrStartTrace(undefined).spanId, spanId);
});

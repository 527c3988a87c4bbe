/** The upstream circuit's state machine, on its own (the gateway-level behaviour is in test/resilience). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCircuit } from '../../../src/core/retry/circuit.ts';

const config = { consecutiveFailures: 3, openTime: 1000, halfOpenRequests: 1 };

function opened() {
  const circuit = createCircuit(config);
  for (let i = 0; i < 3; i++) circuit.record(0, true, false);
  return circuit;
}

test('failures in a row open the circuit; it says how long until probes go through', () => {
  const circuit = opened();
  assert.equal(circuit.stateAt(400), 'open');
  assert.deepEqual(circuit.admit(400), { allowed: false, retryAfterMs: 600, probing: false });
});

test('read after its open time with no request since, an open circuit is half-open', () => {
  const circuit = opened();
  assert.equal(circuit.stateAt(999), 'open');
  assert.equal(circuit.stateAt(1000), 'half_open', 'no request came to move it: the read says what is due');
  assert.equal(circuit.stateAt(60_000), 'half_open');
  // Reading it changed nothing: the next request is still the probe.
  assert.deepEqual(circuit.admit(60_000), { allowed: true, probe: true });
});

test('a breaker turned off by a reload while open reads closed, as it admits every request', () => {
  const circuit = opened();
  circuit.reconfigure({ ...config, consecutiveFailures: 0 });
  assert.equal(circuit.stateAt(10), 'closed');
  assert.deepEqual(circuit.admit(10), { allowed: true, probe: false });
});

test('half-open: one probe at a time; its success closes the circuit, its failure reopens it', () => {
  const circuit = opened();
  assert.deepEqual(circuit.admit(1000), { allowed: true, probe: true });
  assert.deepEqual(
    circuit.admit(1000),
    { allowed: false, retryAfterMs: 1000, probing: true },
    'the second request waits for the probe (at most one open time), and is told the circuit is probing',
  );
  circuit.record(1010, false, true);
  assert.equal(circuit.stateAt(1010), 'closed');
  const again = opened();
  again.admit(1000);
  again.record(1010, true, true);
  assert.equal(again.stateAt(1010), 'open');
  assert.deepEqual(again.admit(1500), { allowed: false, retryAfterMs: 510, probing: false });
});

test('a probe that ended without an answer frees its slot and leaves the circuit half-open, never closed', () => {
  const circuit = opened();
  assert.equal(circuit.admit(1000).allowed, true);
  circuit.releaseProbe();
  assert.equal(circuit.stateAt(1001), 'half_open');
  assert.deepEqual(circuit.admit(1001), { allowed: true, probe: true }, 'the next request is the probe');
});

test('a success resets the count of failures in a row', () => {
  const circuit = createCircuit(config);
  circuit.record(0, true, false);
  circuit.record(0, true, false);
  circuit.record(0, false, false);
  circuit.record(0, true, false);
  assert.equal(circuit.stateAt(0), 'closed');
});

test("another worker's failed probe opens again a circuit here whose open time ran out with no request since", () => {
  // Both workers opened at 0 (one by failures, the other told). At 1000 both read half-open; one
  // worker's probe fails at 1200 and it tells this one, which has sent no probe: its circuit is
  // open again for what the news says, not half-open, so its next request fails fast (503) rather
  // than go as a second probe to the dead upstream (a 502 for its client, a second "circuit
  // opened" line) within the same open time.
  const circuit = opened();
  assert.equal(circuit.stateAt(1200), 'half_open');
  circuit.openedElsewhere(1200, 1000);
  assert.equal(circuit.stateAt(1300), 'open');
  assert.deepEqual(circuit.admit(1300), { allowed: false, retryAfterMs: 900, probing: false });
  assert.deepEqual(
    circuit.admit(2200),
    { allowed: true, probe: true },
    'the next probe comes when the news said',
  );
});

test('news of an opening leaves a circuit still open here as it is', () => {
  const circuit = opened();
  circuit.openedElsewhere(400, 5000);
  assert.deepEqual(circuit.admit(400), { allowed: false, retryAfterMs: 600, probing: false });
});

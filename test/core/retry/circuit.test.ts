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
  assert.equal(circuit.state, 'open');
  assert.deepEqual(circuit.admit(400), { allowed: false, retryAfterMs: 600 });
});

test('half-open: one probe at a time; its success closes the circuit, its failure reopens it', () => {
  const circuit = opened();
  assert.deepEqual(circuit.admit(1000), { allowed: true, probe: true });
  assert.equal(circuit.admit(1000).allowed, false, 'the second request waits for the probe');
  circuit.record(1010, false, true);
  assert.equal(circuit.state, 'closed');
  const again = opened();
  again.admit(1000);
  again.record(1010, true, true);
  assert.equal(again.state, 'open');
  assert.deepEqual(again.admit(1500), { allowed: false, retryAfterMs: 510 });
});

test('a probe that ended without an answer frees its slot and leaves the circuit half-open, never closed', () => {
  const circuit = opened();
  assert.equal(circuit.admit(1000).allowed, true);
  circuit.releaseProbe();
  assert.equal(circuit.state, 'half_open');
  assert.deepEqual(circuit.admit(1001), { allowed: true, probe: true }, 'the next request is the probe');
});

test('a success resets the count of failures in a row', () => {
  const circuit = createCircuit(config);
  circuit.record(0, true, false);
  circuit.record(0, true, false);
  circuit.record(0, false, false);
  circuit.record(0, true, false);
  assert.equal(circuit.state, 'closed');
});

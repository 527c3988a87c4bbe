/**
 * The frame boundary a WebSocket tunnel's Close frame may go in at (ws-frames.ts): headers split
 * across reads, the 16- and 64-bit lengths, masked frames, several frames in one read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBoundary, goingAwayFrame } from '../../../src/proxy/forward/ws-frames.ts';

test('FrameBoundary: between frames only when every header and payload byte came', () => {
  const boundary = new FrameBoundary();
  assert.equal(boundary.atBoundary, true);
  // A 300-byte binary frame (16-bit length), its header split after its first byte.
  const frame = Buffer.concat([Buffer.from([0x82, 126, 0x01, 0x2c]), Buffer.alloc(300)]);
  boundary.feed(frame.subarray(0, 1));
  assert.equal(boundary.atBoundary, false);
  boundary.feed(frame.subarray(1, 150));
  assert.equal(boundary.atBoundary, false);
  boundary.feed(frame.subarray(150));
  assert.equal(boundary.atBoundary, true);
  // Two masked frames in one read, then a 64-bit length frame's header alone.
  const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6b]);
  boundary.feed(Buffer.concat([masked, masked]));
  assert.equal(boundary.atBoundary, true);
  const long = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 0x01, 0, 0]);
  boundary.feed(long);
  assert.equal(boundary.atBoundary, false);
  boundary.feed(Buffer.alloc(65_536));
  assert.equal(boundary.atBoundary, true);
});

test('goingAwayFrame: 1001, masked toward an upstream', () => {
  assert.deepEqual([...goingAwayFrame(false)], [0x88, 0x02, 0x03, 0xe9]);
  const masked = goingAwayFrame(true);
  assert.deepEqual([masked[0], masked[1], masked.length], [0x88, 0x82, 8]);
  assert.equal(((masked[6] ^ masked[2]) << 8) | (masked[7] ^ masked[3]), 1001);
});

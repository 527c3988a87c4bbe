/**
 * The target's pieces the route phase reads: the authority and path of each form, and the
 * loop check on Via, whose received-by is separated by SP or HTAB only (issue 31).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoop, splitTarget } from '../../../src/proxy/route/request-target.ts';

test('the absolute form names its authority; the origin form keeps the Host', () => {
  assert.deepEqual(splitTarget('http://h.example:8080/p?q', 'other'), {
    authority: 'h.example:8080',
    path: '/p?q',
  });
  assert.deepEqual(splitTarget('http://h.example?q', 'other'), { authority: 'h.example', path: '/?q' });
  assert.deepEqual(splitTarget('/p', 'host.example'), { authority: 'host.example', path: '/p' });
});

test('Via: own name as a received-by is a loop, with SP or HTAB around it; not with obs-text (0xa0) in it', () => {
  assert.equal(isLoop('1.1 edge-1', 'edge-1'), true);
  assert.equal(isLoop(' 1.1\tedge-1 , 1.0 other', 'edge-1'), true);
  assert.equal(isLoop('1.1 other, 1.1 edge-1 (Candor)', 'edge-1'), true);
  assert.equal(isLoop('1.1 edge-10', 'edge-1'), false);
  assert.equal(isLoop('1.1\xa0edge-1', 'edge-1'), false);
  assert.equal(isLoop(undefined, 'edge-1'), false);
});

test("Via: own name in another case is a loop (a received-by's host is case-insensitive); another name is not", () => {
  assert.equal(isLoop('1.1 EDGE-1', 'edge-1'), true);
  assert.equal(isLoop('1.1 other, 1.1 Edge-1 (Candor)', 'edge-1'), true);
  assert.equal(isLoop('1.1 edge-1', 'Edge-1'), true);
  assert.equal(isLoop('1.1 EDGE-10', 'edge-1'), false);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../src/core/config/units.ts';

test('durations carry a unit and become milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5s'), 5_000);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration('0s'), 0);
});

test('a duration without a unit, or in words, is not a duration', () => {
  for (const text of ['30', '5 seconds', '5 s', '5S', 's', '-1s', '1d', '', '1.s', '.5s']) {
    assert.equal(parseDuration(text), undefined, text);
  }
});

test('sizes accept bytes, decimal and binary units, and a bare integer as bytes', () => {
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize(512), 512);
  assert.equal(parseSize('512B'), 512);
  assert.equal(parseSize('8KB'), 8_000);
  assert.equal(parseSize('8kB'), 8_000);
  assert.equal(parseSize('8KiB'), 8_192);
  assert.equal(parseSize('8kiB'), 8_192);
  assert.equal(parseSize('10MiB'), 10 * 1024 * 1024);
  assert.equal(parseSize('2MB'), 2_000_000);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('1GB'), 1_000_000_000);
  assert.equal(parseSize('1.5KiB'), 1_536);
  assert.equal(parseSize('0'), 0);
});

test('a size with a miscased or unknown unit, a fraction of a byte, or a negative number is refused', () => {
  for (const value of ['8kb', '8KIB', '8Kib', '8 KiB', '1.5', '1.5B', '-1', '10TB', 'big', '', 1.5, -1]) {
    assert.equal(parseSize(value), undefined, String(value));
  }
});

test('durations and sizes are spelled back in their shortest exact form', () => {
  assert.equal(formatDuration(30_000), '30s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(1_500), '1500ms');
  assert.equal(formatSize(32 * 1024), '32KiB');
  assert.equal(formatSize(1024 * 1024), '1MiB');
  assert.equal(formatSize(1000), '1000B');
});

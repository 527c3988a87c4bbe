/**
 * The contract every log format reader of `explain` passes (STYLE.md: pluggable parts share
 * one contract test). A new reader is added to READERS with a recorded fixture below.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAILURES } from '../../../src/core/failure/taxonomy.ts';
import { detectFormat, READERS } from '../../../src/kits/explain/detect-format.ts';
import { lines } from './explain-fixture.ts';

const FIXTURE_OF: Record<string, string[]> = {
  candor: ['candor.log'],
  'nginx-access': ['nginx-access.log', 'nginx-access-timed.log'],
  'nginx-error': ['nginx-error.log'],
  haproxy: ['haproxy.log'],
  'ingress-nginx': ['ingress-nginx.log'],
  'haproxy-stderr': ['haproxy-docker.log'],
  envoy: ['envoy.log'],
  istio: ['istio.log'],
  'envoy-json': ['istio-json.log'],
  traefik: ['traefik.log'],
  'traefik-clf': ['traefik-common.log'],
  'caddy-access': ['caddy-access.log'],
  'caddy-error': ['caddy.log'],
  alb: ['alb.log'],
  'gcp-lb': ['gcp-lb.log'],
};

// The recording's span, with a day's slack either side.
const recorded = lines('candor.log').map((l) => Date.parse(JSON.parse(l).time));
const EARLIEST = Math.min(...recorded) - 86_400_000;
const LATEST = Math.max(...recorded) + 86_400_000;

test('every reader has a recorded fixture', () => {
  for (const reader of READERS) assert.ok(FIXTURE_OF[reader.format], `no fixture for ${reader.format}`);
});

for (const reader of READERS) {
  describe(`log reader contract: ${reader.format}`, () => {
    const own = FIXTURE_OF[reader.format].flatMap(lines);
    const foreign = Object.entries(FIXTURE_OF)
      .filter(([format]) => format !== reader.format)
      .flatMap(([, files]) => files.flatMap(lines));

    test('detection picks it from the first lines of its own files', () => {
      for (const file of FIXTURE_OF[reader.format]) {
        assert.equal(detectFormat(lines(file).slice(0, 20))?.format, reader.format, file);
      }
    });

    test('it reads its own lines into records the taxonomy knows', () => {
      let records = 0;
      let failures = 0;
      let errors5xx = 0;
      for (const line of own) {
        const record = reader.read(line);
        if (record === undefined) continue;
        records++;
        assert.ok(
          record.kind === 'request' ||
            record.kind === 'attempt' ||
            record.kind === 'health' ||
            record.kind === 'change',
          line,
        );
        assert.ok(
          Number.isFinite(record.time) && record.time > EARLIEST && record.time < LATEST,
          `time of ${line}`,
        );
        if (record.kind === 'request') {
          const s = record.status;
          assert.ok(
            Number.isInteger(s) && (s === 0 || s === 9 || (s >= 100 && s <= 599)),
            `status of ${line}`,
          );
          if (record.waitMs !== undefined) assert.ok(record.waitMs >= 0, `waitMs of ${line}`);
          if (s >= 500) errors5xx++;
        }
        if ('failure' in record && record.failure !== undefined) {
          failures++;
          assert.ok(Object.hasOwn(FAILURES, record.failure), `${record.failure} is not in FAILURES`);
        }
        for (const field of ['upstream', 'target', 'joinKey'] as const) {
          const value = record[field];
          assert.ok(
            value === undefined || (typeof value === 'string' && value !== ''),
            `${field} of ${line}`,
          );
        }
      }
      assert.ok(records >= own.length / 2, `read ${records} records of ${own.length} lines`);
      // A format whose causes are in another file (nginx's access log) tells statuses, and at
      // most the few failures its own fields show (Traefik's 503 with no server picked).
      if (reader.causesIn === undefined) assert.ok(failures >= 10, `found ${failures} failures`);
      else assert.ok(errors5xx >= 10, `found ${failures} failures, ${errors5xx} 5xx`);
    });

    test("it claims no other format's lines", () => {
      for (const line of foreign) {
        assert.equal(reader.sniff(line), false, `sniffs ${line}`);
        assert.equal(reader.read(line), undefined, `reads ${line}`);
      }
    });

    test('it never throws on blank, cut or garbled lines', () => {
      const samples = ['', ' ', '\t', '{', '{}', 'null', '[]', '"', '\u0000\u00ff', 'x'.repeat(100_000)];
      for (const line of own.slice(0, 60)) {
        for (const cut of [1, Math.floor(line.length / 3), Math.floor(line.length / 2), line.length - 1]) {
          samples.push(line.slice(0, cut), line.slice(cut));
        }
        samples.push(line.replace(/\d/g, 'x'), line.replaceAll('"', ''), line.toUpperCase());
      }
      for (const sample of samples) {
        assert.doesNotThrow(() => reader.sniff(sample), sample);
        assert.doesNotThrow(() => reader.read(sample), sample);
      }
    });
  });
}

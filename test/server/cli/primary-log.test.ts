/**
 * The cluster primary writes its event lines without pino (primary-log.ts): each line is the
 * one pino writes for the workers (logger.ts's createLoggerOn), byte for byte, for every kind
 * of call the primary makes.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { renameGateway } from '../../../src/observe/log/gateway-name.ts';
import { createLoggerOn, type Logger } from '../../../src/observe/log/logger.ts';
import { eventLogger } from '../../../src/server/cluster/primary-log.ts';

/** The lines each logger writes for the same calls, at the same instant. */
function linesOf(calls: (logger: Logger) => void): { pino: string[]; primary: string[] } {
  mock.timers.enable({ apis: ['Date'], now: Date.parse('2026-11-23T18:00:00.123Z') });
  try {
    const pino: string[] = [];
    const primary: string[] = [];
    calls(createLoggerOn({ write: (line: string) => pino.push(line) }, 'info', 'edge "1"'));
    calls(eventLogger({ write: (line: string) => primary.push(line), flush: () => {} }, 'info', 'edge "1"'));
    return { pino, primary };
  } finally {
    mock.timers.reset();
  }
}

test("the primary's lines are pino's, byte for byte", () => {
  const err = Object.assign(new TypeError('bad "thing"'), { code: 'E_BAD' });
  const { pino, primary } = linesOf((logger) => {
    logger.info('config reloaded');
    logger.info(
      { via: 'SIGHUP', who: 'signal', version: 2, workers: { confirmed: [1, 2], failed: [] } },
      'config reloaded',
    );
    logger.warn({ admin: '0.0.0.0:9901' }, 'admin API listening beyond loopback: anyone…');
    logger.error({ err: 'refused', problems: [{ path: 'listen[0].address', line: 0 }] }, 'reload refused');
    logger.info({
      gone: undefined,
      fn: () => 1,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ok: true,
      n: -0.5,
    });
    logger.info({ text: 'a "quoted"\nline\twith \\ and \u0001 and é and \ud800' }, 'm\u00e9ssage "q"');
    logger.error({ err }, 'could not reopen the log file');
    logger.error(err);
    logger.debug({ hidden: true }, 'below the level');
  });
  assert.equal(primary.length, 8);
  assert.deepEqual(primary, pino);
});

test("the primary's level follows the config in force, as pino's does", () => {
  const { pino, primary } = linesOf((logger) => {
    logger.level = 'warn';
    logger.info('hidden');
    logger.warn({ level_now: logger.level }, 'shown');
    logger.level = 'debug';
    logger.debug('shown too');
    logger.level = 'silent';
    logger.fatal('hidden');
  });
  assert.equal(primary.length, 2);
  assert.deepEqual(primary, pino);
});

test('a value JSON cannot write (circular, a BigInt) is a placeholder in the line, and the call does not throw', () => {
  const lines: string[] = [];
  const logger = eventLogger(
    { write: (line: string) => lines.push(line), flush: () => {} },
    'info',
    'edge-1',
  );
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  logger.info({ circular, big: 10n, ok: 'yes' }, 'still written');
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.circular, '[unserializable]');
  assert.equal(line.big, '[unserializable]');
  assert.equal(line.ok, 'yes');
  assert.equal(line.msg, 'still written');
});

test("a reload's new name is the gateway field of the next lines, the primary's as pino's", () => {
  const { pino, primary } = linesOf((logger) => {
    logger.info('before');
    renameGateway(logger, 'edge-2');
    logger.info({ plugin: 'p' }, 'after');
  });
  assert.deepEqual(primary, pino);
  assert.deepEqual(
    pino.map((line) => JSON.parse(line).gateway),
    ['edge "1"', 'edge-2'],
  );
});

/**
 * Run by hostile-lines.test.ts on a thread of its own (so that a reader that never returns can
 * be stopped): reads one format's adversarial lines with its reader, then says how many.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { READERS } from '../../../src/kits/explain/detect-format.ts';
import { parseHaproxyConf } from '../../../src/kits/explain/haproxy-conf.ts';
import type { LogReader } from '../../../src/kits/explain/log-reader.ts';
import { formatsFor, parseNginxConf } from '../../../src/kits/explain/nginx-conf.ts';
import { haproxyFormatReader } from '../../../src/kits/explain/readers/haproxy-log-format.ts';
import { nginxFormatReader } from '../../../src/kits/explain/readers/nginx-log-format.ts';
import { adversarialLines } from './hostile-lines.ts';

const { format, fixtures } = workerData as { format: string; fixtures: string[] };
const FIXTURES = join(import.meta.dirname, 'fixtures');

function readerOf(id: string): LogReader {
  const builtIn = READERS.find((r) => r.format === id);
  if (builtIn) return builtIn;
  if (id.startsWith('haproxy:')) {
    const cfg = join(FIXTURES, 'haproxy-log-format.cfg');
    const [custom] = parseHaproxyConf(readFileSync(cfg, 'utf8'), cfg);
    return haproxyFormatReader(custom, id, custom.name);
  }
  const conf = parseNginxConf(readFileSync(join(FIXTURES, 'nginx-formats.conf'), 'utf8'));
  const [custom] = formatsFor(conf, join('/var/log/nginx', fixtures[0]));
  return nginxFormatReader(custom, id, custom.name);
}

const reader = readerOf(format);
const seeds = fixtures.flatMap((file) =>
  readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n')
    .filter((line) => line !== ''),
);
let read = 0;
for (const line of adversarialLines(seeds)) {
  reader.sniff(line);
  reader.read(line);
  read++;
}
parentPort?.postMessage(read);

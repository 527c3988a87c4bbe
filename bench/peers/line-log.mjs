// The ceilings' access log: each line a JSON text, kept in memory and written to ACCESS_LOG
// every 50 ms in one write (what a lean Node proxy does; no pino).
import { openSync, write } from 'node:fs';

const fd = openSync(process.env.ACCESS_LOG ?? '/dev/null', 'a');
let lines = '';
let writing = false;
let isoAt = 0;
let iso = '';

/** The time as an ISO string, made once a millisecond. */
export function isoNow() {
  const now = Date.now();
  if (now !== isoAt) [isoAt, iso] = [now, new Date(now).toISOString()];
  return iso;
}

/** Queues one line (its JSON members, without braces); it leaves within 50 ms. */
export function logLine(members) {
  lines += `{"time":"${isoNow()}",${members}}\n`;
}

/** Queues one record as a JSON line, its `time` set now (put it first in the object to have it first). */
export function logRecord(record) {
  record.time = isoNow();
  lines += `${JSON.stringify(record)}\n`;
}

setInterval(() => {
  if (writing || lines === '') return;
  const out = Buffer.from(lines, 'latin1');
  [lines, writing] = ['', true];
  write(fd, out, 0, out.length, null, () => {
    writing = false;
  });
}, 50);

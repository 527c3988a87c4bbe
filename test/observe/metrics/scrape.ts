import assert from 'node:assert/strict';
import http from 'node:http';

/** One sample line of an exposition: its name, its labels and its value. */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** GET /metrics on this port: the status and the text. */
export function scrape(port: number): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text }),
        );
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('scrape timed out'));
      });
  });
}

/** Scrapes until `done` holds (or 30 s pass: a worker may not answer yet), returning the last scrape. */
export async function scrapeUntil(port: number, done: (all: Sample[]) => boolean): Promise<Sample[]> {
  // A bound, not a schedule: two workers starting beside a loaded suite took over 10 s.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = await scrape(port).then(
      (r) => (r.status === 200 ? samples(r.text) : []),
      () => [],
    );
    if (done(all) || Date.now() > deadline) return all;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The samples of a Prometheus text exposition (the test's own reading, not prom-client's). */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** The value of the one sample with exactly these labels, or undefined when there is none. */
export function sampleValue(
  all: readonly Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const found = all.filter(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted,
  );
  assert.ok(found.length <= 1, `${name} ${wanted}: ${found.length} samples`);
  return found[0]?.value;
}

/** Every sample of a metric, for the error messages. */
export function named(all: readonly Sample[], name: string): string {
  return all
    .filter((s) => s.name === name)
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .join('\n');
}

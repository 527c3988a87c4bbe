/**
 * `candor check` (the CLI, a real child process) on the worst files the config fuzz tests
 * (test/core/config/fuzz-*.test.ts) led to: an alias bomb, nesting past the parser's stack (opened
 * or closed), NUL
 * and bytes that are no UTF-8, a file past the size bound, an endless one (/dev/zero), a folder.
 * Each exits 78 (EXIT.config) with the problem list on stderr, one `FILE[:line:column]  …` line
 * each and the count, never a stack; none hangs (a child left running is killed and fails its case).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-check-hostile-');
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * `candor check FILE` (or another command line); a child still running after a minute is killed
 * (its code then null).
 */
function check(
  file: string,
  { command = [process.execPath, BIN, 'check', file] }: { command?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [program = '', ...args] = command;
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Nine aliases to a list of nine, nine levels deep: 387 million values if expanded. */
const aliasBomb = () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\nlisten: *a9\n`;
};

const CASES: readonly (readonly [string, () => string, RegExp])[] = [
  ['an alias bomb', () => write('bomb.yaml', aliasBomb()), /more than 1000 aliases to resolve/],
  ['100,000 "["', () => write('deep.yaml', `listen: ${'['.repeat(100_000)}\n`), /nested too deeply to read/],
  [
    '2,000 levels of indentation, then a line back at the left',
    () =>
      write(
        'closing.yaml',
        `${Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k:\n`).join('')}routes: []\n`,
      ),
    /^\S+closing\.yaml:2000:2000 {2}values nested too deeply to read/,
  ],
  [
    'a NUL and a byte that is no UTF-8',
    () => write('nul.yaml', Buffer.from('listen:\0\n  - \xff\n', 'latin1')),
    /not UTF-8 here: byte 0xff/,
  ],
  [
    'a file past 4 MiB',
    () => write('big.yaml', `name: "${'x'.repeat(5 * 1024 * 1024)}"\n`),
    /more than 4 MiB/,
  ],
  ['/dev/zero, which has no end', () => '/dev/zero', /not a regular file but a character device/],
  // open() of a FIFO waits for a writer: check hung there for ever (nginx -t and haproxy -c do too).
  ['a FIFO nobody writes to', () => fifo('nobody.yaml'), /not a regular file but a pipe \(FIFO\)/],
  ['a folder', () => dir, /is a directory/],
];

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

function write(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

for (const [name, make, message] of CASES)
  test(`check on ${name}: exit 78, the problems on stderr, no stack`, async () => {
    const file = make();
    const { code, stdout, stderr } = await check(file);
    assert.equal(code, 78, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, message);
    const lines = stderr.trimEnd().split('\n');
    assert.match(lines.at(-1)!, /^\d+ problems? in /);
    assert.ok(lines.at(-1)!.endsWith(` in ${file}`), lines.at(-1));
    for (const line of lines.slice(0, -1))
      assert.ok(line.startsWith(`${file}:`) || line.startsWith(`${file}  `), line);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

// A pipe was read once to tell a fleet's bootstrap file from a config, and that read took its
// text: the config then read as empty ("got nothing", a lie about the file it was given).
test('check on a pipe (/dev/stdin fed by one): exit 78, said to be a pipe, not an empty file', async () => {
  const config = write('piped.yaml', 'listen: [{ address: "127.0.0.1:0" }]\n');
  // Through a shell: a child's stdin made by node is a socket, not a pipe.
  const shell = `cat '${config}' | exec '${process.execPath}' '${BIN}' check /dev/stdin`;
  const { code, stdout, stderr } = await check('/dev/stdin', { command: ['/bin/sh', '-c', shell] });
  assert.equal(code, 78, stderr);
  assert.equal(stdout, '');
  assert.equal(
    stderr,
    '/dev/stdin  cannot read config file /dev/stdin: not a regular file but a pipe (FIFO): a config is read from a file, and again at each reload; write it to one and name that\n1 problem in /dev/stdin\n',
  );
});

test('serve on a FIFO nobody writes to: exit 78 with the same problem, not a wait for ever', async () => {
  const path = fifo('serve.yaml');
  const { code, stdout, stderr } = await check(path, {
    command: [process.execPath, BIN, 'serve', '--workers', '1', '--config', path],
  });
  assert.equal(code, 78, stderr);
  assert.equal(stdout, '');
  assert.match(
    stderr,
    /^\S+serve\.yaml {2}cannot read config file \S+serve\.yaml: not a regular file but a pipe \(FIFO\)/,
  );
});

// A name the file refers to is quoted in its problem as written: an ESC in it recoloured or
// cleared the operator's terminal, a CR rewrote the line shown, and an LF forged a problem line
// (or a "fine" one) of its own.
test('check on names holding ESC, CR, LF and a bidi override: one line a problem, each control escaped', async () => {
  const file = write(
    'escapes.yaml',
    `listen: [{ address: "127.0.0.1:0" }]
routes:
  - match: { path: / }
    upstream: "ap\\e[2J\\nforged.yaml:1:1  all fine\\rp\\u202e"
upstreams:
  "a\\e]0;title\\u0007pp":
    targets: [{ url: "http://127.0.0.1:1" }]
`,
  );
  const { code, stdout, stderr } = await check(file);
  assert.equal(code, 78, stderr);
  assert.equal(stdout, '');
  assert.doesNotMatch(
    stderr,
    /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/,
    JSON.stringify(stderr),
  );
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.at(-1), `2 problems in ${file}`);
  for (const line of lines.slice(0, -1)) assert.ok(line.startsWith(`${file}:`), line);
  assert.ok(
    stderr.includes("no upstream named 'ap\\x1b[2J\\x0aforged.yaml:1:1  all fine\\x0dp\\u202e'"),
    stderr,
  );
});

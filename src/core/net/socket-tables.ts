// node:fs through process.getBuiltinModule, not an import: as an ES module it loads
// fs/promises with it, memory the cluster primary does without (lean-processes.test.ts).
const fs = process.getBuiltinModule('node:fs');

/** The kernel's TCP socket tables for this process's network namespace. */
const TABLES = ['/proc/self/net/tcp', '/proc/self/net/tcp6'];
/** How much of a table is read at once. */
const CHUNK = 64 * 1024;

/**
 * The inodes of the TCP sockets listening on `port` (any address), from /proc (Linux);
 * undefined when no table can be read (no /proc, another system). A table that cannot be read
 * (tcp6 where IPv6 is off) is passed over.
 *
 * The tables have a line for every socket of the host's namespace: 15,000 lines (2.2 MB) on a
 * machine busy with connections, up to 98,000 seen. Read whole and split, they allocated some
 * 22 MB at the cluster primary's start, grew its young generation to its cap and its peak RSS
 * to 76–89 MiB, and left 1–4 MiB more resident once idle (docs/benchmarks-memory.md): they are
 * read a chunk at a time.
 */
export function listeningInodes(port: number): string[] | undefined {
  let read = false;
  const inodes: string[] = [];
  for (const table of TABLES) {
    try {
      eachLine(table, (line) => {
        // sl local_address rem_address st …: local_address is ADDRESS:PORT in hex, state 0A is
        // LISTEN, the inode the tenth field.
        const fields = line.trim().split(/\s+/);
        if (fields[3] !== '0A') return;
        const local = fields[1]?.split(':');
        if (local !== undefined && Number.parseInt(local[1], 16) === port) inodes.push(fields[9]);
      });
      read = true;
    } catch {}
  }
  return read ? inodes : undefined;
}

/** Each line of the file at `path` (its first, the tables' heading, too), read CHUNK bytes at a time. */
function eachLine(path: string, each: (line: string) => void): void {
  const fd = fs.openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK);
    let rest = '';
    for (let got = fs.readSync(fd, chunk); got > 0; got = fs.readSync(fd, chunk)) {
      const lines = (rest + chunk.toString('latin1', 0, got)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) each(line);
    }
    if (rest !== '') each(rest);
  } finally {
    fs.closeSync(fd);
  }
}

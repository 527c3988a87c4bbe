/**
 * Whether a file is a fleet's bootstrap file (it names a `source:`), as `serve`, `check` and the
 * admin commands tell one from a config before reading it as either. A file that cannot be read
 * is left to the reader that follows to say so. Through `getBuiltinModule`: node:fs imported as
 * an ES module would load fs/promises into the primary with it (lean-processes.test.ts).
 */
export function isBootstrapFile(file: string): boolean {
  const fs = process.getBuiltinModule('node:fs');
  let fd: number | undefined;
  try {
    // Non-blocking: a FIFO nobody writes to held this open() for ever. Only a regular file is
    // looked into: a pipe's head read here would be gone for the reader that follows, which
    // refuses anything else by name (read-error.ts).
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    if (!fs.fstatSync(fd).isFile()) return false;
    // Only the head is looked at, so only the head is read: a file without end (`candor check
    // /dev/zero`) read whole before it was cut never came back, where the reader that follows
    // refuses it at its size bound.
    const head = Buffer.alloc(SNIFFED_BYTES);
    let length = 0;
    for (let read = -1; read !== 0 && length < head.length; length += read)
      read = fs.readSync(fd, head, length, head.length - length, null);
    return /^source\s*:/m.test(head.toString('utf8', 0, length));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A bootstrap file is a few lines; a config that names `source:` past this is no bootstrap file. */
const SNIFFED_BYTES = 64 * 1024;

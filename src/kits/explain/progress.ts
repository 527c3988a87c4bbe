/** A progress bar on stderr for reads that take more than a second, when stderr is a terminal. */
export interface Progress {
  stop(): void;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(bytes < 10 * 1048576 ? 1 : 0)} MiB`;

export function startProgress(
  read: () => { bytes: number; total: number; file: string },
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY) return { stop() {} };
  const started = Date.now();
  let shown = false;
  const timer = setInterval(() => {
    if (Date.now() - started < 1000) return;
    const { bytes, total, file } = read();
    const share = total > 0 ? Math.min(1, bytes / total) : 0;
    const width = 30;
    const filled = Math.round(share * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    stream.write(
      `\r\x1b[2K[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${mib(bytes)} / ${mib(total)}  ${file}`,
    );
    shown = true;
  }, 200);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}

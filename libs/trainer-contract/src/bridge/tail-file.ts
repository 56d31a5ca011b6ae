import { open } from 'node:fs/promises';

const POLL_MS = 100;

/**
 * Follows a file another process appends to (the rank-0 worker's events under torchrun), calling `onChunk` with each
 * new piece. A plain file rather than a FIFO: it never blocks either side, and a worker that dies before it opens
 * the channel leaves nothing hanging. `stop()` reads what is left and closes.
 */
export function tailFile(path: string, onChunk: (text: string) => void): { stop(): Promise<void> } {
  let offset = 0;
  let reading: Promise<void> = Promise.resolve();
  const decoder = new TextDecoder('utf-8');
  const readMore = async () => {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) return;
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const text = decoder.decode(buf.subarray(0, bytesRead), { stream: true });
        if (text) onChunk(text);
      }
    } finally {
      await handle.close();
    }
  };
  const timer = setInterval(() => {
    reading = reading.then(readMore, readMore);
  }, POLL_MS);
  return {
    async stop() {
      clearInterval(timer);
      await reading.catch(() => undefined);
      await readMore();
    },
  };
}

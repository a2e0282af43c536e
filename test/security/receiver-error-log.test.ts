// The receiver's error log on an internal error names the request path by a bounded, escaped preview,
// never whole: the path is the client's text (up to node's header limit, any bytes). Real HTTP server;
// the failing part is a route that throws, as a broken store or a bug would.
import { describe, it, expect } from 'vitest';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createReceiverServer } from '../../src/stock/receive/server.js';
import type { UploadHandler } from '../../src/stock/receive/upload-handler.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { rawStatusLine } from '../helpers/http.js';

describe('receiver error log', () => {
  it('previews a hostile path (64 characters, escaped, its length) instead of logging it whole', async () => {
    const t = tempDir();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const throwing = () => {
      throw new Error('store failed');
    };
    const server = createReceiverServer(testConfig(t.dir), {} as UploadHandler, log, [throwing]);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const path = `/${'A'.repeat(6000)}%0D%0AFAKE:%20entry`;
      expect(await rawStatusLine((server.address() as AddressInfo).port, path)).toBe('HTTP/1.1 503 Service Unavailable');
      const entry = JSON.parse(lines.find((l) => l.includes('receiver error'))!);
      expect(entry.err).toBe('store failed');
      expect(entry.path).toBe(`/${'A'.repeat(63)}…(${path.length} chars)`);
      expect(lines.join('')).not.toContain('A'.repeat(100));
    } finally {
      server.close();
      t.cleanup();
    }
  });
});

// Hostile bodies against the real receiver over real HTTP: 32 MiB of any shape is parsed in one pass
// (issue 11). On the old parser a body of fields without "=" rescanned the rest of the body per field:
// minutes for these bodies, so this file's time limit is what fails there; each figure is printed.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { startReceiver, type RunningRole } from '../../src/roles/receiver.js';
import { tempDir, testConfig, uniqueName, log } from '../helpers/env.js';
import { post } from '../helpers/http.js';

const PATH = '/api/zaikorobot.php';
const MiB = 1024 * 1024;
const SIZE = 32 * MiB - 1024; // just under receiver.maxBytes (32MiB)
const AUTH = 'sys_id=zr-croft01&sys_pass=s3cret-pass&';

/** SIZE bytes: `pad` to fill, `head`, `unit` repeated (whole units), `tail`. */
function body(head: string, unit: string, tail = '', pad = '&'): Buffer {
  const units = Math.floor((SIZE - head.length - tail.length) / unit.length);
  const padding = SIZE - head.length - tail.length - units * unit.length;
  return Buffer.from(pad.repeat(padding) + head + unit.repeat(units) + tail, 'latin1');
}

const MP = 'multipart/form-data; boundary=XyZ';
const part = (name: string, value: string) => `--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

const SHAPES: [string, () => Buffer, string | undefined, RegExp][] = [
  ['fields without "="', () => body(AUTH, 'x&'), undefined, /^NG\nno_query\n$/],
  ['only "&"', () => body('', '&'), undefined, /^NG\nauth_error\n$/],
  ['only "%"', () => body('', '%'), undefined, /^NG\nbad_request\(bad_escape at byte 0\)\n$/],
  ['one huge key', () => body(AUTH, 'k', '=1'), undefined, /^NG\nno_query\n$/],
  ['deep brackets', () => body(`${AUTH}product`, '[', '=1'), undefined, /^OK\n$|^NG\n/],
  ['one field repeated', () => body(AUTH, 'product[0][stock]=1&', 'product[0][product_code]=X'), undefined, /^NG\ntoo_large\n$/],
  ['many items', () => body(AUTH, 'product[0][stock]=1&product[1][stock]=1&product[2][stock]=1&'), undefined, /^NG\ntoo_large\n$/],
  ['many "=" in one value', () => body(`${AUTH}a=`, '='), undefined, /^NG\nno_query\n$/],
  [
    'multipart: many parts',
    () => body(part('sys_id', 'zr-croft01') + part('sys_pass', 's3cret-pass'), part('x', 'y'), '--XyZ--\r\n', 'p'),
    MP,
    /^NG\nno_query\n$/,
  ],
  [
    'multipart: many product parts',
    () => body(part('sys_id', 'zr-croft01') + part('sys_pass', 's3cret-pass'), part('product[0][stock]', '1'), '--XyZ--\r\n', 'p'),
    MP,
    /^NG\nbad_request\(missing_product_code\(product\[0\]\)\)\n$/,
  ],
  [
    'multipart: a part that never ends, full of near-boundaries',
    () => body(part('sys_id', 'zr-croft01'), '\r\n--XyY'),
    MP,
    /^NG\nbad_request\(unterminated_multipart\)\n$/,
  ],
  [
    'multipart: a header that never ends',
    () => body('--XyZ\r\nContent-Disposition: form-data; name="', 'n'),
    MP,
    /^NG\nbad_request\(multipart_header_too_long\)\n$/,
  ],
  [
    'multipart: "name=" without a closing quote',
    () => body('--XyZ\r\nContent-Disposition: form-data; name="', '\\"name=', '\r\n\r\nv\r\n--XyZ--'),
    MP,
    /^NG\nbad_request\(/,
  ],
];

describe('32 MiB hostile upload bodies', () => {
  let receiver: RunningRole;
  let t: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    t = tempDir();
    receiver = await startReceiver(testConfig(t.dir, { receiver: { waitMs: 100 } }), inject('redisUrl'), log, {
      queueName: uniqueName('stock'),
    });
  });
  afterAll(async () => {
    await receiver?.close();
    t?.cleanup();
  });

  it.each(SHAPES)(
    '%s: answered, nothing stored',
    async (_name, make, contentType, expected) => {
      const b = make();
      expect(b.length).toBe(SIZE);
      const start = performance.now();
      const res = await post(receiver.port!, PATH, b, contentType);
      console.log(`hostile body (${_name}): ${SIZE} bytes answered in ${Math.round(performance.now() - start)} ms`);
      expect(res.status).toBe(/too_large/.test(res.text) ? 413 : 200);
      expect(res.text).toMatch(expected);
    },
    60_000,
  );
});

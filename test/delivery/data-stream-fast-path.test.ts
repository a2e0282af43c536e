// The delivery thread's replacement for nodemailer's DataStream#_transform (dot-stuffing and line
// ends, src/delivery/data-stream-fast-path.ts): pinned to the code it replaces, and byte for byte the
// original's output on random input with random chunk borders and on every fixture.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type NodemailerDataStream from 'nodemailer/lib/smtp-connection/data-stream';
import {
  installDataStreamFastPath,
  KNOWN_NODEMAILER,
  KNOWN_TRANSFORM_SHA256,
  fastPathApplies,
  transforms,
} from '../../src/delivery/data-stream-fast-path.js';
import { prng } from '../helpers/random.js';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
/** The CommonJS build's, the one the delivery thread's SMTPConnection uses (src/delivery/smtp-pool.ts). */
const DataStream = require('nodemailer/lib/smtp-connection/data-stream') as typeof NodemailerDataStream;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const installedVersion = () => {
  const main = require.resolve('nodemailer', { paths: [ROOT] });
  return JSON.parse(readFileSync(main.slice(0, main.lastIndexOf('/dist/')) + '/package.json', 'utf8')).version;
};

type Transform = ReturnType<typeof transforms>['original'];

/** Runs a transform over the chunks the way a stream would; per input chunk: the bytes it pushed, and the state after. */
function run(transform: Transform, chunks: (Buffer | string)[]) {
  const state = {
    inByteCount: 0,
    outByteCount: 0,
    lastByte: false as number | false,
    pushed: [] as Buffer[],
    push(b: Buffer) {
      this.pushed.push(b);
      return true;
    },
  };
  return chunks.map((chunk) => {
    state.pushed = [];
    let called = 0;
    transform.call(state, chunk, 'buffer', () => called++);
    expect(called).toBe(1);
    return {
      out: Buffer.concat(state.pushed).toString('latin1'),
      lastByte: state.lastByte,
      in: state.inByteCount,
      outN: state.outByteCount,
    };
  });
}

function splitRandomly(bytes: Buffer, rnd: ReturnType<typeof prng>): (Buffer | string)[] {
  const chunks: (Buffer | string)[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = rnd.int(5) === 0 ? 0 : 1 + rnd.int(Math.min(bytes.length - at, rnd.pick([1, 3, 8, 64, 4096])));
    const piece = bytes.subarray(at, at + n);
    chunks.push(rnd.int(10) === 0 ? piece.toString('latin1') : piece); // strings come in too; latin1 is byte for byte
    at += n;
  }
  return chunks;
}

function expectSameOutput(chunks: (Buffer | string)[], label: string) {
  const { original, fast } = transforms();
  expect(run(fast, chunks), label).toEqual(run(original, chunks));
}

describe('DataStream fast path', () => {
  it('is written against the installed nodemailer, pinned exactly (else: read the new _transform, then update the hash)', () => {
    expect(pkg.dependencies.nodemailer).toBe(KNOWN_NODEMAILER);
    expect(installedVersion()).toBe(KNOWN_NODEMAILER);
    const { original } = transforms();
    expect(createHash('sha256').update(original.toString()).digest('hex')).toBe(KNOWN_TRANSFORM_SHA256);
    expect(installDataStreamFastPath()).toBe(true);
    expect((DataStream.prototype as unknown as { _transform: Transform })._transform).toBe(transforms().fast);
  });

  it('leaves the library alone when the version or the code differs', () => {
    const source = transforms().original.toString();
    expect(fastPathApplies(KNOWN_NODEMAILER, source)).toBe(true);
    expect(fastPathApplies('10.6.2', source)).toBe(false);
    expect(fastPathApplies(undefined, source)).toBe(false);
    expect(fastPathApplies(KNOWN_NODEMAILER, source.replace('0x2e', '0x2E'))).toBe(false);
  });

  it('gives the original output on 5,000 random inputs of CR, LF, dots and letters, split at random', () => {
    const rnd = prng(16);
    const alphabet = Buffer.from('a.\r\n');
    for (let i = 0; i < 5000; i++) {
      const length = rnd.pick([1, 2, 3, 5, 20, 100, 1000, 9000]);
      const bytes = Buffer.from(Array.from({ length: rnd.int(length) + 1 }, () => alphabet[rnd.int(alphabet.length)]));
      expectSameOutput(splitRandomly(bytes, rnd), `input ${i}: ${JSON.stringify(bytes.toString('latin1'))}`);
    }
  });

  it('gives the original output on mostly CRLF text with a few dotted lines and stray line ends (the sliced and joined cases)', () => {
    const rnd = prng(1616);
    for (let i = 0; i < 300; i++) {
      const lines = Array.from({ length: 1 + rnd.int(400) }, () => {
        const start = rnd.pick(['', '', '', '', '.', '..', '\r', '\n']);
        const end = rnd.pick(['\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '']);
        return start + 'x'.repeat(rnd.int(90)) + end;
      });
      const bytes = Buffer.from(lines.join(''), 'latin1');
      expectSameOutput([bytes], `whole ${i}`);
      expectSameOutput(splitRandomly(bytes, rnd), `split ${i}`);
    }
  });

  it('gives the original output on every mail fixture, whole and split at random', () => {
    const files = [join(ROOT, '..', '..', 'shared', 'fixtures'), join(ROOT, 'test', 'fixtures')].flatMap(function walk(
      dir: string,
    ): string[] {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return [];
      }
      return names.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
    });
    expect(files.length).toBeGreaterThan(5);
    const rnd = prng(7);
    for (const f of files) {
      const bytes = readFileSync(f);
      expectSameOutput([bytes], f);
      for (let k = 0; k < 20; k++) expectSameOutput(splitRandomly(bytes, rnd), `${f} split ${k}`);
      const crlf = Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
      expectSameOutput([crlf], `${f} with CRLF`);
    }
  });

  it('sends a CRLF chunk without dotted lines on as it is, and a few dotted lines as slices of it (no copy)', () => {
    const { fast } = transforms();
    const plain = Buffer.from('line one\r\nline two\r\n');
    const dotted = Buffer.from('line one\r\n.hidden\r\nline three\r\n');
    const pushed: Buffer[] = [];
    const state = { inByteCount: 0, outByteCount: 0, lastByte: 0x0a, push: (b: Buffer) => pushed.push(b) };
    fast.call(state, plain, 'buffer', () => {});
    expect(pushed).toEqual([plain]);
    expect(pushed[0]).toBe(plain);
    pushed.length = 0;
    fast.call(state, dotted, 'buffer', () => {});
    expect(Buffer.concat(pushed).toString()).toBe('line one\r\n..hidden\r\nline three\r\n');
    expect(pushed.filter((b) => b.length > 1).every((b) => b.buffer === dotted.buffer)).toBe(true);
  });
});

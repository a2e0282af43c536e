// nodemailer's SMTPConnection#send pipes every message through its internal DataStream, whose
// _transform dot-stuffs and turns bare CR and LF into CRLF with a JavaScript loop over every byte:
// ~2.6 ms of the delivery thread's CPU per 1 MiB message (bench/README.md). There is no public way
// around it, so this replaces DataStream.prototype._transform with one that finds the only bytes that
// matter (CR, LF, and a dot after a line end) with Buffer#indexOf: per line two native searches
// instead of a JavaScript step per byte. For every chunk it pushes the original's bytes (as the chunk
// itself, a few slices of it or one joined Buffer), with the state carried across chunks the same way
// (test/delivery/data-stream-fast-path.test.ts runs both on random input split at random).
// The patch checks the library first and leaves it alone if it has changed: nodemailer is pinned
// exactly, and the test above fails on a different version or a different _transform.
// docs/upstream-nodemailer-data-stream.md drafts the upstream change that would make this unnecessary.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type NodemailerDataStream from 'nodemailer/lib/smtp-connection/data-stream';

const require = createRequire(import.meta.url);
/** The CommonJS build's, the one smtp-pool.ts's SMTPConnection uses (it says why it loads that build). */
const DataStream = require('nodemailer/lib/smtp-connection/data-stream') as typeof NodemailerDataStream;

/** The nodemailer whose DataStream#_transform this replaces, and the sha256 of that function's source. */
export const KNOWN_NODEMAILER = '10.6.1';
export const KNOWN_TRANSFORM_SHA256 = 'f9011076cfb9b81d6f382bca2d600bc9fe9d40bbe0d4bed9a0563aab27e8d4d5';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
// What the original inserts; shared, as the original's are (only ever copied or written).
const INSERT_LF = Buffer.from('\n');
const INSERT_LF_DOT = Buffer.from('\n.');
const INSERT_CR = Buffer.from('\r');
const INSERT_DOT = Buffer.from('.');
/** Up to this many insertions in a chunk go out as slices of it (no copy); more are joined into one Buffer. */
const MAX_SLICED_INSERTS = 32;

type Transform = (this: DataStreamState, chunk: Buffer | string, encoding: BufferEncoding, done: () => void) => void;
interface DataStreamState {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}

/**
 * Where the original inserts bytes, in ascending order: positions[k] gets inserts[k] before it. The
 * original's rule, for each byte with the byte before it (`lastByte` of the previous chunk at 0,
 * false before the first): CR then not LF gets LF (LF and a dot if it is a dot); LF after anything but
 * CR gets CR; a dot after LF, or first of all, gets a dot. Only position 0, the byte after each CR
 * and each LF and the byte after it can match, so those are all this looks at.
 */
function findInserts(chunk: Buffer, lastByte: number | false, positions: number[], inserts: Buffer[]): void {
  const len = chunk.length;
  const first = chunk[0];
  if (lastByte === CR && first !== LF) add(0, first === DOT ? INSERT_LF_DOT : INSERT_LF);
  else if (first === LF && lastByte !== CR) add(0, INSERT_CR);
  else if (first === DOT && (lastByte === LF || lastByte === false)) add(0, INSERT_DOT);
  let cr = chunk.indexOf(CR);
  let lf = chunk.indexOf(LF);
  if (cr < 0) cr = len;
  if (lf < 0) lf = len;
  // CRs and LFs in the order they come, so the positions come out ascending: a CR's insert goes after
  // it, an LF's before it (a bare LF) or after it (a dot), and no two of them can meet at one byte.
  while (cr < len || lf < len) {
    if (cr < lf) {
      const next = chunk[cr + 1];
      if (cr + 1 < len && next !== LF) add(cr + 1, next === DOT ? INSERT_LF_DOT : INSERT_LF);
      cr = chunk.indexOf(CR, cr + 1);
      if (cr < 0) cr = len;
    } else {
      if (lf > 0 && chunk[lf - 1] !== CR) add(lf, INSERT_CR);
      if (lf + 1 < len && chunk[lf + 1] === DOT) add(lf + 1, INSERT_DOT);
      lf = chunk.indexOf(LF, lf + 1);
      if (lf < 0) lf = len;
    }
  }
  function add(position: number, insert: Buffer) {
    positions.push(position);
    inserts.push(insert);
  }
}

/** The replacement _transform: the original's output, found with native searches. */
const fastTransform: Transform = function (chunk, _encoding, done) {
  if (!chunk || !chunk.length) return done();
  if (typeof chunk === 'string') chunk = Buffer.from(chunk);
  this.inByteCount += chunk.length;
  const positions: number[] = [];
  const inserts: Buffer[] = [];
  findInserts(chunk, this.lastByte, positions, inserts);
  let total = chunk.length;
  for (const insert of inserts) total += insert.length;
  this.outByteCount += total;
  if (!positions.length) this.push(chunk);
  else if (positions.length <= MAX_SLICED_INSERTS) {
    // A few insertions (a dotted line here and there): the chunk goes out in slices around them, no copy.
    let from = 0;
    for (let k = 0; k < positions.length; k++) {
      if (positions[k] > from) this.push(chunk.subarray(from, positions[k]));
      this.push(inserts[k]);
      from = positions[k];
    }
    if (from < chunk.length) this.push(chunk.subarray(from));
  } else {
    // Many (bare LF line ends): joined into one Buffer, as the original does, not written in tiny pieces.
    const out = Buffer.allocUnsafe(total);
    let from = 0;
    let at = 0;
    for (let k = 0; k < positions.length; k++) {
      at += chunk.copy(out, at, from, positions[k]);
      for (const byte of inserts[k]) out[at++] = byte; // one or two bytes: cheaper than a native copy
      from = positions[k];
    }
    chunk.copy(out, at, from);
    this.push(out);
  }
  this.lastByte = chunk[chunk.length - 1];
  done();
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The installed nodemailer's version (read from its package.json, which its exports do not list). */
function nodemailerVersion(): string | undefined {
  try {
    const main = require.resolve('nodemailer');
    const pkgPath = main.slice(0, main.lastIndexOf('/dist/')) + '/package.json';
    return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

type Proto = { _transform: Transform & { original?: Transform } };
let installed: boolean | undefined;

/** True when nodemailer is the version, and DataStream#_transform the code, the replacement was written against. */
export const fastPathApplies = (version: string | undefined, transformSource: string): boolean =>
  version === KNOWN_NODEMAILER && sha256(transformSource) === KNOWN_TRANSFORM_SHA256;

/** Installs the fast _transform once; returns false (and changes nothing) when fastPathApplies is false. */
export function installDataStreamFastPath(): boolean {
  if (installed !== undefined) return installed;
  const proto = DataStream.prototype as unknown as Proto;
  const original = proto._transform;
  installed = fastPathApplies(nodemailerVersion(), original.toString());
  if (installed) proto._transform = Object.assign(fastTransform, { original }); // the test hashes the original
  return installed;
}

/** For tests and the bench: the original _transform and the replacement, unbound. */
export const transforms = (): { original: Transform; fast: Transform } => {
  const current = (DataStream.prototype as unknown as Proto)._transform;
  return { original: current.original ?? current, fast: fastTransform };
};

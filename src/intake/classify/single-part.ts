// Reading a single-part text message without a stream. mailparser reads every message through a
// chain of streams that yields to the event loop several times; on a busy relay each yield waits a
// whole loop turn, and classification took ~10 ms of the ~27 ms between a message's last byte and
// its 250 (bench/README.md). Most order mails are one text/plain part, and for those this does what
// mailparser does, synchronously and with mailparser's own parts: the MIME node and transfer decoders of
// its splitter (@zone-eu/mailsplit) and its charset decoder (libmime), both direct dependencies pinned to
// the versions mailparser pins (one copy each), and its header decoding (MailParser#processHeaders, not
// public: mailparser is pinned exactly, test/relay/library-internals.test.ts checks it is there, and
// without it every message goes through mailparser). Anything else — multipart, attachments,
// format=flowed, base64 padded mid-body — answers null and goes through mailparser.
// test/relay/single-part.test.ts holds the two readers equal on the fixtures and a corpus of variants.
import type { Transform } from 'node:stream';
import mailsplit from '@zone-eu/mailsplit';
import libmime from 'libmime';
import { MailParser, type AddressObject } from 'mailparser';

export interface Parsed {
  from?: AddressObject;
  subject?: string;
  messageId?: string;
  text?: string;
  html?: string | false;
}

interface SplitterNode {
  contentType: string | false;
  charset: string | false;
  encoding: string | false;
  disposition: string | false;
  flowed: boolean;
  headers: { getList(): unknown[] };
  addHeaderChunk(line: Buffer): boolean;
  parseHeaders(): void;
  getDecoder(): Transform;
}
const MimeNode = mailsplit.MimeNode as unknown as new (parent: null, config: object) => SplitterNode;

type ProcessHeaders = (lines: unknown[]) => Map<string, unknown>;
let headerDecoder: ProcessHeaders | null | undefined;
/** mailparser's header decoding, borrowed from one idle instance on first use; null if mailparser no longer has it. */
function processHeaders(): ProcessHeaders | null {
  if (headerDecoder === undefined) {
    const parser = new MailParser() as unknown as { processHeaders?: ProcessHeaders };
    headerDecoder = typeof parser.processHeaders === 'function' ? parser.processHeaders.bind(parser) : null;
  }
  return headerDecoder;
}

const UTF8_LIKE = ['ascii', 'usascii', 'utf8']; // mailparser leaves these as they are (UTF-8)
const LF = 0x0a;
const CR = 0x0d;

/** Offset just past the blank line that ends the header block, or -1. */
function headerEnd(head: Buffer): number {
  for (let i = head.indexOf(LF); i >= 0; i = head.indexOf(LF, i + 1)) {
    if (head[i + 1] === LF) return i + 2;
    if (head[i + 1] === CR && head[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** A decoding Transform fed all at once: these decoders finish synchronously on end(). */
function drain(stream: Transform, input: Buffer): Buffer {
  const out: Buffer[] = [];
  stream.end(input);
  for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) out.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(out);
}

/**
 * What mailparser would give for a single-part text/plain or text/html message, or null. Null too
 * when anything in here throws: mailparser catches some decoding errors this path would not, so a
 * surprise goes to it rather than becoming a 451.
 */
export function parseSinglePart(head: Buffer): Parsed | null {
  try {
    return readSinglePart(head);
  } catch {
    return null;
  }
}

function readSinglePart(head: Buffer): Parsed | null {
  const decodeHeaders = processHeaders();
  if (!decodeHeaders) return null;
  if (!/^[!-9;-~]+:/.test(head.toString('latin1', 0, 80))) return null; // starts with a header field
  const end = headerEnd(head);
  if (end < 0) return null;
  const node = new MimeNode(null, {});
  node.addHeaderChunk(head.subarray(0, end));
  node.parseHeaders();
  const type = node.contentType || 'text/plain';
  if ((type !== 'text/plain' && type !== 'text/html') || node.disposition || node.flowed) return null;
  const body = head.subarray(end);
  // The splitter feeds a base64 body line by line; whole, it decodes the same unless '=' pads mid-body.
  if (node.encoding === 'base64' && /=[\s=]*[^\s=]/.test(body.toString('latin1'))) return null;
  let bytes = drain(node.getDecoder(), body);
  const charset = node.charset || 'utf-8';
  if (!UTF8_LIKE.includes(charset.toLowerCase().replace(/[^a-z0-9]+/g, ''))) bytes = drain(libmime.createDecodeStream(charset), bytes);
  const content = bytes.toString().replace(/\r?\n/g, '\n');

  const headers = decodeHeaders(node.headers.getList());
  const out: Parsed = {
    from: headers.get('from') as AddressObject | undefined,
    subject: headers.get('subject') as string | undefined,
    messageId: headers.get('message-id') as string | undefined,
  };
  if (content && type === 'text/plain') out.text = content;
  if (content && type === 'text/html') {
    out.text = '';
    out.html = content;
  } // mailparser's text of an HTML-only message (skipHtmlToText)
  return out;
}

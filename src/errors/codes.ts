// One table of the program's error codes: each says what it means at every edge it can reach
// (SMTP reply, HTTP status + NG token, process exit code). Nothing matches error strings.

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  UNAVAILABLE: 69, // EX_UNAVAILABLE: Redis or SQLite cannot be reached
  IN_USE: 75, // EX_TEMPFAIL: another process owns this part of the dataDir (src/roles/data-dir-lock.ts)
  CONFIG: 78, // EX_CONFIG
} as const;

interface CodeSpec {
  smtp?: { code: number; enhanced: string };
  http?: number;
  ng?: string; // the token on the line after NG
  exit: number;
}

const ERROR_CODES = {
  CONFIG_INVALID: { exit: EXIT.CONFIG },
  CONFIG_NOT_FOUND: { exit: EXIT.CONFIG },
  REDIS_UNAVAILABLE: { exit: EXIT.UNAVAILABLE, http: 503 },
  REDIS_MISSING_BINARY: { exit: EXIT.UNAVAILABLE },
  SQLITE_UNAVAILABLE: { exit: EXIT.UNAVAILABLE, http: 503 },
  NOT_FOUND: { exit: EXIT.FAILURE },
  USAGE: { exit: EXIT.USAGE }, // an option value a command cannot use: refused before any work
  BAD_INPUT: { exit: EXIT.FAILURE },
  DATA_DIR_IN_USE: { exit: EXIT.IN_USE },
  RELAY_ACCESS_DENIED: { smtp: { code: 554, enhanced: '5.7.1' }, exit: EXIT.FAILURE },
  RELAY_AUTH_FAILED: { smtp: { code: 535, enhanced: '5.7.8' }, exit: EXIT.FAILURE },
  RELAY_AUTH_LOCKED: { smtp: { code: 454, enhanced: '4.7.0' }, exit: EXIT.FAILURE },
  RELAY_ENCRYPTION_REQUIRED: { smtp: { code: 538, enhanced: '5.7.11' }, exit: EXIT.FAILURE }, // RFC 4954: AUTH without TLS
  RELAY_SHUTTING_DOWN: { smtp: { code: 421, enhanced: '4.3.2' }, exit: EXIT.FAILURE },
  RELAY_BUSY: { smtp: { code: 421, enhanced: '4.3.2' }, exit: EXIT.FAILURE }, // no session slot left for this client
  RELAY_TOO_MANY_CONNECTIONS: { smtp: { code: 421, enhanced: '4.7.0' }, exit: EXIT.FAILURE }, // relay.maxClientsPerAddress
  RELAY_JUNK_COMMANDS: { smtp: { code: 421, enhanced: '4.7.0' }, exit: EXIT.FAILURE }, // relay.junkCommandLimit
  RELAY_SESSION_TOO_LONG: { smtp: { code: 421, enhanced: '4.4.2' }, exit: EXIT.FAILURE }, // relay.maxSessionTime
  RELAY_TOO_MANY_RECIPIENTS: { smtp: { code: 452, enhanced: '4.5.3' }, exit: EXIT.FAILURE },
  RELAY_TOO_BIG: { smtp: { code: 552, enhanced: '5.3.4' }, exit: EXIT.FAILURE },
  RELAY_LOOP: { smtp: { code: 554, enhanced: '5.4.6' }, exit: EXIT.FAILURE },
  RELAY_NOT_STORED: { smtp: { code: 451, enhanced: '4.3.0' }, exit: EXIT.FAILURE },
  // The upload endpoint answers NG lines; zaiko Robot's module always got 200 for request faults.
  STOCK_AUTH_ERROR: { http: 200, ng: 'auth_error', exit: EXIT.FAILURE },
  STOCK_NO_QUERY: { http: 200, ng: 'no_query', exit: EXIT.FAILURE },
  STOCK_BAD_REQUEST: { http: 200, ng: 'bad_request', exit: EXIT.FAILURE },
  STOCK_TOO_LARGE: { http: 413, ng: 'too_large', exit: EXIT.FAILURE },
  STOCK_UNAVAILABLE: { http: 503, ng: 'unavailable', exit: EXIT.UNAVAILABLE },
  STOCK_BUSY: { http: 503, ng: 'busy', exit: EXIT.UNAVAILABLE }, // receiver.maxInflightBytes reached; Retry-After says when
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error that knows its code; the edges translate it with the table above. */
export class BridgeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BridgeError';
  }
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

/** An smtp-server hook error: `responseCode` picks the reply, the message carries the enhanced code. */
export function smtpError(code: ErrorCode, text: string): Error & { responseCode: number } {
  const spec = ERROR_CODES[code] as CodeSpec;
  if (!spec.smtp) throw new Error(`${code} has no SMTP reply`);
  const err = new Error(`${spec.smtp.enhanced} ${text}`) as Error & { responseCode: number };
  err.responseCode = spec.smtp.code;
  return err;
}

export type StockErrorCode =
  'STOCK_AUTH_ERROR' | 'STOCK_NO_QUERY' | 'STOCK_BAD_REQUEST' | 'STOCK_TOO_LARGE' | 'STOCK_UNAVAILABLE' | 'STOCK_BUSY';

/** The HTTP status and NG lines of an upload refused for `code`; `detail` goes in brackets (bad_request). */
export function ngAnswer(code: StockErrorCode, detail?: string): { status: number; lines: string[] } {
  const spec = ERROR_CODES[code];
  return { status: spec.http, lines: ['NG', detail === undefined ? spec.ng : `${spec.ng}(${detail})`] };
}

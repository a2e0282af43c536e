// node:http and node:https, required rather than imported. On Node 24 an ESM import of node:http makes Node
// build that module's ESM namespace, which reads http.WebSocket and so loads undici (fetch's client) into the
// thread: 2.3 MB more heap and ~15 MB more RSS, for a client we never use, in each of `start`'s threads
// (measured on Node 24.18; Node 20 does not). A require() reads no property it is not asked for.
// Types come from `import type` (erased); values from here.
import { createRequire } from 'node:module';
import type * as Http from 'node:http';
import type * as Https from 'node:https';

const require = createRequire(import.meta.url);
export const http = require('node:http') as typeof Http;
export const https = require('node:https') as typeof Https;

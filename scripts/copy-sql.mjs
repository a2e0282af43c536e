// Copies the SQL migrations next to the compiled code: tsc only emits .js.
import { cpSync } from 'node:fs';
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });

// Copies the SQL migrations next to the compiled code (tsc only emits .js), replacing what was there:
// a migration renamed or removed in src/ must not linger in dist/ and run on the next start.
import { cpSync, rmSync } from 'node:fs';
rmSync('dist/db/migrations', { recursive: true, force: true });
cpSync('src/db/migrations', 'dist/db/migrations', { recursive: true });

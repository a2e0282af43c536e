// Runs after every test file (vitest setupFiles): whatever process a test started and did not stop,
// passing or failing, is stopped with its whole process group.
import { afterAll } from 'vitest';
import { stopSpawned } from './processes.js';

afterAll(() => stopSpawned());

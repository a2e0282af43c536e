#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 node --expose-gc --max-semi-space-size=4 --optimize-for-size
// zaiko-bridge: the command line (src/cli/main.ts). A long-running command started without the node
// flags it needs starts again with them first (src/roles/relaunch.ts).
import { relaunchWithNodeFlags } from './roles/relaunch.js';

if (!(await relaunchWithNodeFlags())) await import('./cli/main.js');

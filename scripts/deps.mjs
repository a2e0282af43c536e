// The import rules and the module graph from one cruise of src/ and test/ (dependency-cruiser, one parse of every file).
// `node scripts/deps.mjs` (npm run lint): fails on a broken rule (.dependency-cruiser.cjs) or when
// docs/module-graph.md no longer matches the imports; `--write` (npm run graph) regenerates that file.
import { readFileSync, writeFileSync } from 'node:fs';
import { cruise, format } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const GRAPH_FILE = 'docs/module-graph.md';
/**
 * One node per room (folder of src/). intake's storage is drawn as its own node, intake-spool, beside intake's
 * pipeline: mermaid cannot draw an edge from a subgraph (intake) to a node inside it (intake/spool).
 */
const ROOMS = '^src/[^/]+';
const SPOOL = /^src\/intake\/spool\//;

const options = await extractDepcruiseOptions('./.dependency-cruiser.cjs');
const cruised = await cruise(['src', 'test'], { ...options, outputType: 'json' }, undefined, {
  tsConfig: extractTSConfig('tsconfig.json'),
});
const result = typeof cruised.output === 'string' ? JSON.parse(cruised.output) : cruised.output;

const rules = await format(result, { outputType: 'err' });
process.stdout.write(rules.output);

const flat = (path) => path.replace(SPOOL, 'src/intake-spool/');
const rooms = {
  ...result,
  modules: result.modules.map((m) => ({
    ...m,
    source: flat(m.source),
    dependencies: m.dependencies.map((d) => ({ ...d, resolved: flat(d.resolved) })),
  })),
};
const mermaid = (await format(rooms, { outputType: 'mermaid', includeOnly: '^src/', collapse: ROOMS })).output;
const graph = [
  '# Module graph',
  '',
  'Which room (folder of `src/`) imports which, generated from the code by `npm run graph` (scripts/deps.mjs);',
  '`npm run lint` fails when it is stale. Do not edit by hand; the rules are in docs/ARCHITECTURE.md.',
  '',
  '```mermaid',
  mermaid.trimEnd(),
  '```',
  '',
].join('\n');

let stale = false;
if (process.argv.includes('--write')) writeFileSync(GRAPH_FILE, graph);
else {
  let committed = '';
  try {
    committed = readFileSync(GRAPH_FILE, 'utf8');
  } catch {
    // missing: stale
  }
  stale = committed !== graph;
  if (stale) console.error(`${GRAPH_FILE} is stale (imports changed): run npm run graph and commit it`);
}
process.exitCode = rules.exitCode > 0 || stale ? 1 : 0;

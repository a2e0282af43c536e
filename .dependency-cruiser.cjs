// The rooms of src/ and which may import which (docs/ARCHITECTURE.md), checked by `npm run lint`.
// A new folder under src/ is a new room: lower rooms may not import it until it is added to LOWER below.

/** Rooms below every other: they import only each other. intake/spool is intake's storage, below its pipeline. */
const LOWER = '(db|observe|errors|security|config|queue|net|ledger|intake/spool)';
/** The rooms that do the work: mail (relay, intake, delivery) and stock. */
const WORK = '(relay|delivery|intake|stock)';
/** The top, in order from below: console (the web UI), roles (what long-running commands start), cli (commands). */
const TOP = '(console|roles|cli)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'relay-delivery-apart',
      comment: 'relay/ (SMTP receive + policy) and delivery/ never import each other: both hand mail to intake/ (a queue between them)',
      severity: 'error',
      from: { path: '^src/(relay|delivery)/' },
      to: { path: '^src/(relay|delivery)/', pathNot: '^src/$1/' },
    },
    {
      name: 'stock-apart-from-mail',
      comment: 'stock/ never imports relay/, delivery/ or intake/: put the shared piece in a lower room or pass it through the queue',
      severity: 'error',
      from: { path: '^src/stock/' },
      to: { path: '^src/(relay|delivery|intake)/' },
    },
    {
      name: 'mail-apart-from-stock',
      comment: 'relay/, delivery/ and intake/ never import stock/: the two data paths are independent',
      severity: 'error',
      from: { path: '^src/(relay|delivery|intake)/' },
      to: { path: '^src/stock/' },
    },
    {
      name: 'intake-below-relay-and-delivery',
      comment: 'intake/ is what relay/ and delivery/ both use; it imports neither',
      severity: 'error',
      from: { path: '^src/intake/' },
      to: { path: '^src/(relay|delivery)/' },
    },
    {
      name: 'lower-imports-lower',
      comment: `a lower room ${LOWER} imports only lower rooms (not roles, cli, console, queries, relay, delivery, stock, intake's pipeline or a new room)`,
      severity: 'error',
      from: { path: `^src/${LOWER}/` },
      to: { path: '^src/', pathNot: `^src/${LOWER}/` },
    },
    {
      name: 'work-rooms-below-top',
      comment: `${WORK} never import queries/ or ${TOP} (nor src/cli.ts): what they share goes in a lower room`,
      severity: 'error',
      from: { path: `^src/${WORK}/` },
      to: { path: `^src/(queries/|${TOP}/|cli\\.ts$)` },
    },
    {
      name: 'queries-below-top',
      comment: `queries/ serve the console and the CLI and never import ${TOP} (nor src/cli.ts)`,
      severity: 'error',
      from: { path: '^src/queries/' },
      to: { path: `^src/(${TOP}/|cli\\.ts$)` },
    },
    {
      name: 'console-below-roles',
      comment: 'console/ is started by roles/ and reads through queries/; it never imports roles/ or cli/',
      severity: 'error',
      from: { path: '^src/console/' },
      to: { path: '^src/(roles/|cli/|cli\\.ts$)' },
    },
    {
      name: 'roles-below-cli',
      comment: 'roles/ are started by cli/ (and fork the CLI by path); they never import cli/',
      severity: 'error',
      from: { path: '^src/roles/' },
      to: { path: '^src/(cli/|cli\\.ts$)' },
    },
    {
      name: 'no-cycles',
      comment: 'no import cycles: a cycle means two files are one room, or a piece belongs lower',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'a file nothing imports is dead, or an entry: entries are src/cli.ts and files started by path, named *-entry.ts',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: ['^src/cli\\.ts$', '-entry\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    // Tests are cruised as importers (a file only a test uses is not an orphan, as for knip); rules apply to src/.
    includeOnly: '^(src|test)/',
    // Type-only imports count: a boundary holds for types too (they are what a room promises).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};

// Module hooks (node --import, see test/cli/lazy-loading.test.ts): append the npm package of every module the
// process resolves, one a line, to $RECORD_PACKAGES. ESM resolutions only: enough for the packages our code imports.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1];
  if (pkg) appendFileSync(process.env.RECORD_PACKAGES, `${pkg}\n`);
  return resolved;
}

#!/usr/bin/env node
// Entry point for `iiptran` / `npx iiptran`: the CLI is compiled TypeScript under dist/.
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('iiptran: not built yet: run `npm install` in the package directory (its prepare step compiles the TypeScript), or `npm run build`');
  } else {
    console.error(`iiptran: ${e && e.message ? e.message : e}`);
  }
  process.exit(1);
});

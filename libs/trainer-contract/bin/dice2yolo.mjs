#!/usr/bin/env node
// Thin launcher so the bin link exists before the first build; the code lives in dist/.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/convert/dice2yolo-cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('dice2yolo: not built yet; run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env node
// Thin launcher so the bin link exists before the first build; the code lives in dist/.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('trainer-ultralytics: not built yet; run `npm run build` first\n');
  process.exit(1);
}
await import(entry.href);

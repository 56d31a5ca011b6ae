// Every trainer's bin/ starts its bundle through this, so the bin link works before the first build and then says
// what to do instead of failing with a missing-module stack trace. Plain JavaScript: it must run unbuilt.
import { existsSync } from 'node:fs';

/** Runs `<app>/dist/main.js` for the launcher at `binUrl` (its import.meta.url). */
export async function launch(binUrl, name) {
  const entry = new URL('../dist/main.js', binUrl);
  if (!existsSync(entry)) {
    process.stderr.write(`${name}: not built yet; run \`npm run build\` first\n`);
    process.exitCode = 1;
    return;
  }
  await import(entry.href);
}

#!/usr/bin/env node
// `npm run bench`: builds, then runs every tools/bench/<area>.mjs in turn (or only those named on the command line),
// passing their output through and collecting the final JSON line each prints into one summary.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..', '..');
const wanted = process.argv.slice(2);
const areas = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('_'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .filter((a) => wanted.length === 0 || wanted.includes(a));

const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_ISOLATE_PLUGINS: 'false' } });
if (build.status !== 0) process.exit(build.status ?? 1);

const summary = [];
for (const area of areas) {
  console.log(`\n=== bench: ${area} ===`);
  const started = Date.now();
  const child = spawn(process.execPath, [join(here, `${area}.mjs`)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let last = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    const lines = (last + chunk.toString()).split('\n');
    last = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{"bench"')) {
        try {
          summary.push(JSON.parse(line));
        } catch {
          // not a summary line after all: the area's own output, already shown
        }
      }
    }
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (last.startsWith('{"bench"')) {
    try {
      summary.push(JSON.parse(last));
    } catch {
      // not a summary line after all: the area's own output, already shown
    }
  }
  console.log(`=== ${area}: exit ${code}, ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
}
console.log('\n=== summary ===');
for (const s of summary) console.log(JSON.stringify(s));

#!/usr/bin/env node
// The lines each trainer app owns (issue 10's measure): its src/ without specs, plus python/. Everything else a
// trainer needs is shared (libs/trainer-contract), so this is the cost of adding a framework. `code` leaves out
// blank lines, comments and docstrings; `lines` is every line. `npm run bench -- lines`, or `npm run lines`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const GOAL = { ultralytics: 400 };
const root = new URL('../..', import.meta.url).pathname;
const appsDir = join(root, 'apps');

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === '__pycache__' || name === 'node_modules') return [];
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const owned = (app) =>
  [...files(join(appsDir, app, 'src')), ...files(join(appsDir, app, 'python'))].filter(
    (f) => /\.(ts|py)$/.test(f) && !/\.(spec|test)\.ts$/.test(f),
  );

/** Lines that are neither blank nor comment: `//`, `/* … *\/` for TypeScript; `#` and docstrings for Python. */
function codeLines(path, text) {
  let code = 0;
  let block = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (block) {
      if (line.includes(block)) block = null;
      continue;
    }
    if (!line) continue;
    if (path.endsWith('.py')) {
      if (line.startsWith('#')) continue;
      const quote = line.startsWith('"""') ? '"""' : line.startsWith("'''") ? "'''" : null;
      if (quote) {
        if (!(line.length > 3 && line.endsWith(quote))) block = quote;
        continue;
      }
    } else {
      if (line.startsWith('//')) continue;
      if (line.startsWith('/*')) {
        if (!line.includes('*/')) block = '*/';
        continue;
      }
    }
    code++;
  }
  return code;
}

const results = {};
for (const app of readdirSync(appsDir).filter((d) => existsSync(join(appsDir, d, 'package.json')))) {
  let lines = 0;
  let code = 0;
  console.log(`apps/${app}`);
  for (const file of owned(app).sort()) {
    const text = readFileSync(file, 'utf8');
    const n = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const c = codeLines(file, text);
    lines += n;
    code += c;
    console.log(`  ${String(n).padStart(5)} lines ${String(c).padStart(5)} code  ${relative(join(appsDir, app), file)}`);
  }
  const goal = GOAL[app];
  console.log(`  ${String(lines).padStart(5)} lines ${String(code).padStart(5)} code  total${goal ? ` (goal: under ${goal} lines; ${lines < goal ? 'met' : 'not met'})` : ''}`);
  results[app] = { lines, code, ...(goal ? { goal } : {}) };
}
console.log(JSON.stringify({ bench: 'lines', apps: results }));

#!/usr/bin/env node
// Writes docker/k8s/<app>/*.yaml with each built trainer's own `k8s-manifest` (tools/deploy's test keeps them current).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleFlags, ROOT, shippedApps } from './examples.mjs';

for (const app of shippedApps()) {
  const dir = join(ROOT, 'docker', 'k8s', app.name);
  mkdirSync(dir, { recursive: true });
  for (const [file, flags] of Object.entries(exampleFlags(app))) {
    const yaml = execFileSync(process.execPath, [app.bin, 'k8s-manifest', ...flags], { encoding: 'utf8', env: { ...process.env, TERMINATION_LOG: '/dev/null' } });
    writeFileSync(join(dir, file), yaml);
    console.log(`docker/k8s/${app.name}/${file}`);
  }
}

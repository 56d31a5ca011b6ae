#!/usr/bin/env node
// Writes docker/<app>.Dockerfile for every app from the generator's template (the one recipe, with the app's name);
// tools/deploy's test fails while an app's Dockerfile differs from it. For an app merged with an older recipe.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, shippedApps } from './examples.mjs';

const template = readFileSync(join(ROOT, 'tools/trainer-plugin/src/generators/trainer/files/docker/__name__.Dockerfile__tmpl__'), 'utf8');
for (const app of shippedApps()) {
  writeFileSync(join(ROOT, 'docker', `${app.name}.Dockerfile`), template.replaceAll('<%= name %>', app.name));
  console.log(`docker/${app.name}.Dockerfile`);
}

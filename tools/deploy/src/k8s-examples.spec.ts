import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { manifestProblems } from '@trainers/trainer-contract/testing';
import { exampleFlags, ROOT, shippedApps } from '../examples.mjs';

const apps = shippedApps();

describe.each(apps.map((a) => [a.name, a] as const))('docker/k8s/%s', (name, app) => {
  const dir = join(ROOT, 'docker', 'k8s', name);
  const flags = exampleFlags(app) as Record<string, string[]>;

  it.each(Object.keys(flags))('%s is what k8s-manifest prints today (node tools/deploy/write-k8s-examples.mjs)', (file) => {
    expect(existsSync(app.bin)).toBe(true);
    const printed = execFileSync(process.execPath, [app.bin, 'k8s-manifest', ...flags[file]!], { encoding: 'utf8', env: { ...process.env, TERMINATION_LOG: '/dev/null' } });
    expect(existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : `missing: docker/k8s/${name}/${file}`).toBe(printed);
  });

  it.each(Object.keys(flags))('%s: every document is valid against its schema', async (file) => {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) expect([doc['kind'], await manifestProblems(doc)]).toEqual([doc['kind'], []]);
  });

  it('holds no stale example', () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(flags).sort());
  });
});

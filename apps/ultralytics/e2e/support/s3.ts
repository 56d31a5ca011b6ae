import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { SYSTEM_PYTHON } from './fake.js';

export { getObject, listKeys, testS3Client, uploadDir, uploadFile } from '@trainers/trainer-contract/testing';

/** Zips `dir`'s contents (entries relative to it) with Python's zipfile, as a user's archive would look. */
export function zipDir(dir: string, zipPath: string): void {
  execFileSync(SYSTEM_PYTHON, ['-m', 'zipfile', '-c', zipPath, ...readdirSync(dir)], { cwd: dir });
}

// Where each managed Python environment lives (BRIEF seam 5). Pure: no installs, no output.
//   home:  $TRAINERS_VENV_HOME, else ~/.cache/trainers/venvs
//   dir:   <home>/<label>-<hash16>; label = the folder holding requirements.txt (`dev` for tools/python),
//          hash16 = first 16 hex chars of sha256(file bytes with \r\n normalised to \n)
//   ready: <dir>/.complete exists (setup writes it last)
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('../..', import.meta.url).pathname);
const DEV_REQUIREMENTS = join(root, 'tools', 'python', 'requirements.txt');

export function venvHome(env = process.env) {
  return env.TRAINERS_VENV_HOME ? resolve(env.TRAINERS_VENV_HOME) : join(homedir(), '.cache', 'trainers', 'venvs');
}

/** First 16 hex chars of sha256 over the bytes, CRLF read as LF (a Windows checkout names the same venv). */
function requirementsHash(bytes) {
  const normalised = Buffer.from(Buffer.from(bytes).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  return createHash('sha256').update(normalised).digest('hex').slice(0, 16);
}

function labelOf(requirementsFile) {
  const file = resolve(requirementsFile);
  return file === DEV_REQUIREMENTS ? 'dev' : basename(dirname(file));
}

/** Lines like `# import: ultralytics` name modules setup imports once the install is done. */
function importChecks(text) {
  return [...text.matchAll(/^#\s*import:\s*([\w., ]+)$/gm)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
}

function environmentFor(requirementsFile, env = process.env) {
  const requirements = resolve(requirementsFile);
  const bytes = readFileSync(requirements);
  const label = labelOf(requirements);
  const dir = join(venvHome(env), `${label}-${requirementsHash(bytes)}`);
  const text = bytes.toString('utf8');
  return {
    label,
    requirements,
    relative: relative(root, requirements),
    dir,
    python: join(dir, 'bin', 'python'),
    complete: existsSync(join(dir, '.complete')),
    imports: importChecks(text),
    // What overrides the managed venv for this label (seam 5).
    override: label === 'dev' ? 'TRAINERS_DEV_PYTHON' : 'TRAINER_PYTHON',
  };
}

/** Every app's requirements.txt (so a new app is picked up by itself), then the dev tools. */
export function listEnvironments(env = process.env) {
  const apps = join(root, 'apps');
  const files = readdirSync(apps, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(apps, d.name, 'requirements.txt')))
    .map((d) => join(apps, d.name, 'requirements.txt'))
    .sort();
  if (existsSync(DEV_REQUIREMENTS)) files.push(DEV_REQUIREMENTS);
  return files.map((f) => environmentFor(f, env));
}

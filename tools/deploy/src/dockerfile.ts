// Reads an app's Dockerfile with dockerfile-ast (the parser behind the Docker language server) into stages, so the
// tests check the recipe Docker would build, not lines matched by regex.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DockerfileParser, type Copy, type From, type Instruction } from 'dockerfile-ast';
import { ROOT } from '../examples.mjs';

export interface Stage {
  from: From;
  name: string | null;
  instructions: Instruction[];
}

export interface CopyStep {
  /** `--from=` stage, or undefined for the build context. */
  from?: string;
  sources: string[];
  /** Absolute in the image (relative destinations resolved against WORKDIR). */
  dest: string;
}

export function dockerfilePath(app: string): string {
  return join(ROOT, 'docker', `${app}.Dockerfile`);
}

export function parseStages(path: string): Stage[] {
  const file = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const stages: Stage[] = [];
  for (const ins of file.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const from = ins as From;
      stages.push({ from, name: from.getBuildStage(), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return stages;
}

export const keyword = (stage: Stage, k: string) => stage.instructions.filter((i) => i.getKeyword() === k);

/** The COPY steps of a stage with their destinations made absolute (WORKDIR as Docker tracks it). */
export function copySteps(stage: Stage): CopyStep[] {
  let workdir = '/';
  const out: CopyStep[] = [];
  for (const ins of stage.instructions) {
    if (ins.getKeyword() === 'WORKDIR') workdir = posix.resolve(workdir, ins.getArguments()[0]!.getValue());
    if (ins.getKeyword() !== 'COPY') continue;
    const copy = ins as Copy;
    const args = copy.getArguments().map((a) => a.getValue());
    const destArg = args.at(-1)!;
    const dest = destArg.startsWith('/') ? destArg : posix.join(workdir, destArg);
    out.push({ from: copy.getFromFlag()?.getValue() ?? undefined, sources: args.slice(0, -1), dest });
  }
  return out;
}

/** The JSON-form arguments of an instruction (ENTRYPOINT, CMD). */
export function jsonArgs(ins: Instruction): string[] {
  return (ins as unknown as { getJSONStrings(): { getJSONValue(): string }[] }).getJSONStrings().map((s) => s.getJSONValue());
}

/** ENV and LABEL key → value over a stage. */
export function properties(stage: Stage, k: 'ENV' | 'LABEL'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ins of keyword(stage, k)) {
    for (const p of (ins as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) {
      out[p.getName()] = (p.getValue() ?? '').replace(/^"|"$/g, '');
    }
  }
  return out;
}

import { spawn } from 'node:child_process';
import { TrainingFailedError } from '../errors/index.js';
import { runTrainerCli } from '../lifecycle/index.js';
import type { TrainerDriver } from '../lifecycle/types.js';
import { createScriptedDriver, type ScriptedConfig } from '../testing/scripted-driver.js';

/** Ways the suite's own test breaks the trainer, to see the suite catch it. */
export type ScriptedBreak = 'exit-1-for-user-errors' | 'no-progress';

/**
 * A whole trainer on the lifecycle and the scripted driver, for the suite's test of itself. Like a real one it
 * trains in a child process (a placeholder that only lives), so the suite can kill "the framework" from outside.
 * `SCRIPTED_TRAINER_BREAK` breaks it on purpose; `SCRIPTED_EPOCH_MS` sets the length of an epoch.
 */
export async function runScriptedTrainer(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const brk = env['SCRIPTED_TRAINER_BREAK'] as ScriptedBreak | undefined;
  const inner = createScriptedDriver({ epochMs: Number(env['SCRIPTED_EPOCH_MS'] || 20), models: ['scripted-n'] });
  const driver: TrainerDriver<ScriptedConfig> = {
    ...inner,
    async train(ctx) {
      const framework = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      let died = false;
      framework.on('exit', () => (died = true));
      try {
        return await inner.train({
          ...ctx,
          onEpochEnd: (event) => {
            if (died) throw new TrainingFailedError('the framework process died');
            if (brk !== 'no-progress') ctx.onEpochEnd(event);
          },
        });
      } finally {
        framework.kill('SIGKILL');
      }
    },
  };
  const code = await runTrainerCli(argv, driver, { env });
  return brk === 'exit-1-for-user-errors' && code === 3 ? 1 : code;
}

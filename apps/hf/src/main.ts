// The whole contract (flags, config, dataset staging and conversion, callbacks, MLflow, checkpoint uploads, exit codes,
// SIGTERM) lives in runTrainerCli; an app only supplies its driver. It returns the exit code instead of exiting so the
// lifecycle stays testable in-process.
import { runTrainerCli } from '@trainers/trainer-contract';
import { createHfDriver } from './driver.js';

const code = await runTrainerCli(process.argv.slice(2), createHfDriver(), {});
// Open handles (keep-alive sockets, the AWS SDK's agents) must not keep a finished job's pod alive.
process.exit(code);

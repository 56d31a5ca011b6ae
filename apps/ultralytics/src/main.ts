import { runTrainerCli } from '@trainers/trainer-contract';
import { createUltralyticsDriver } from './driver.js';

const code = await runTrainerCli(process.argv.slice(2), createUltralyticsDriver(), {});
// Open handles (keep-alive sockets, the SDK's agents) must not hold a finished job's pod alive.
process.exit(code);

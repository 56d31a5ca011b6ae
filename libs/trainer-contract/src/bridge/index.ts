export {
  bridgeEventSchema,
  parseBridgeLine,
  type BridgeEvent,
  type TrainStartBridgeEvent,
  type EpochEndBridgeEvent,
  type CheckpointBridgeEvent,
  type TrainEndBridgeEvent,
  type ErrorBridgeEvent,
} from './events.js';
export { runPythonBridge, BRIDGE_INTERRUPTED_EXIT, type RunPythonBridgeOptions, type PythonBridgeResult } from './run.js';
export { checkPythonModule, type PythonModuleCheck } from './check.js';
export { cleanLine } from './lines.js';

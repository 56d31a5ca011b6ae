export {
  bridgeEventSchema,
  parseBridgeLine,
  type BridgeEvent,
  type TrainStartBridgeEvent,
  type EpochEndBridgeEvent,
  type CheckpointBridgeEvent,
  type TrainEndBridgeEvent,
  type ErrorBridgeEvent,
  type HeartbeatBridgeEvent,
} from './events.js';
export { runPythonBridge, BRIDGE_INTERRUPTED_EXIT, type RunPythonBridgeOptions, type PythonBridgeResult } from './run.js';
export { checkPythonModule, type CheckAnswer, type PythonModuleCheck } from './check.js';
export { cleanLine } from './lines.js';
export {
  createPythonBridgeDriver,
  type PythonBridgeDriver,
  type PythonBridgeDriverOptions,
  type PythonBridgeDriverSettings,
  type PythonFramework,
} from './python-driver.js';
export { devPython, managedPython, managedVenvDir, pythonFor, requirementsHash, venvHome } from './python-env.js';
export { bridgeChildEnv } from './child-env.js';
export { appRootOf, bridgeRuntimeDir, bridgeScriptPath } from './runtime-dir.js';
export { torchrunPlan, deviceProcessCount, type TorchrunPlan } from './torchrun.js';

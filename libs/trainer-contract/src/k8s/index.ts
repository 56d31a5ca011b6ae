export { k8sManifestCommand, renderManifests, K8S_MANIFEST_COMMAND, type K8sManifestInput } from './cli.js';
export {
  manifestsFor,
  jobManifest,
  trainJobManifest,
  clusterTrainingRuntimeManifest,
  jobSetManifest,
  objectName,
  SECRET_KEYS,
  TRAINER_CONTAINER,
  TERMINATION_MESSAGE_PATH,
  type ManifestOptions,
} from './manifests.js';
export { actionFor, exitCodeActions, singleNodePodFailurePolicy, multiNodePodFailurePolicy, jobSetFailurePolicy, type PodAction } from './failure-policy.js';

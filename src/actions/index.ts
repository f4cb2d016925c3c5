// The action library: functions the agent wrote in tasks that passed, kept for later tasks.
// See docs/actions.md for the lifecycle (candidate -> promoted -> versioned / retired).

export * from "./types.js";
export { extractActions, analyzeCell, checkActions, extractionCell, toAnalysis, EXTRACTED_EVENT, CHECKED_EVENT, type CellRunner, type CellAnalysis } from "./extract.js";
export { ActionExtractor } from "./extractor.js";
export { nameProblem, importProblem, actionFieldsProblem, isIdentifier, INITIAL_ACTIONS, type ActionFields } from "./rule.js";
export { normalHash } from "./normalize.js";
export { ActionStore, defaultLibraryPath, ACTIONS_SCHEMA_VERSION, type PromotionResult, type ListOptions, type ActionOriginRecord } from "./store.js";
export {
  retrieveActions,
  rankByBm25,
  reciprocalRankFusion,
  cosineSimilarity,
  embeddingText,
  splitWords,
  openAiEmbedder,
  RRF_K,
  type Embedder,
  type EmbeddingsClient,
  type RankedAction,
  type RetrieveOptions,
} from "./retrieve.js";
export {
  definitionCode,
  definitionPlan,
  parseLoaded,
  resolveDependencies,
  lookupIn,
  LOADED_EVENT,
  type DefinitionPlan,
  type ResolvedActions,
} from "./load.js";
export { exportModule, pythonString, commentText, boundNames, type ExportInfo } from "./export.js";
export { TaskLibrary, type TaskLibraryOptions, type TaskSettlement, type GradeOutcome, type OfferedAction, type SearchHit } from "./promote.js";

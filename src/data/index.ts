// Public API of the data layer: datasets in memory, batching, and the loaders for each format.

export {
  type AudioFile,
  type AudioLoadOptions,
  type AudioSplit,
  audioSpeakers,
  findFsdd,
  listAudioFolder,
  loadAudioFolder,
  loadAudioSplits,
  splitAudioFiles,
} from './audio.js';
export type { Augment } from './augment.js';
export { loadCsv } from './csv.js';
export {
  type ArrayDataset,
  type Preprocessing,
  subset,
  type TextTokenizer,
  trainValSplit,
} from './dataset.js';
export { FASHION_MNIST_CLASSES, loadFashionMnist } from './fashion-mnist.js';
export { FASHION_MNIST_URL, fetchFashionMnist } from './fetch.js';
export { type FetchFsddOptions, FSDD_SHA256, FSDD_URL, fetchFsdd } from './fetch-fsdd.js';
export { type FetchMovieLensOptions, fetchMovieLens, MOVIELENS_SMALL_URL } from './fetch-movielens.js';
export { type IdxArray, parseIdx, readIdx } from './idx.js';
export { loadImageFolder } from './images.js';
export {
  type ColdStart,
  coldStart,
  hasItem,
  type InteractionSplit,
  itemCounts,
  leaveLastOut,
  type RandomSplitOptions,
  randomSplit,
  seenItems,
  type UserItems,
} from './interaction-splits.js';
export {
  type Bags,
  type Column,
  findMovieLens,
  type Interactions,
  type ItemFeatures,
  type ItemFeaturesOptions,
  type LoadInteractionsOptions,
  loadInteractionData,
  loadInteractions,
  loadMovieLens,
  parseInteractions,
  subsetInteractions,
  withItemFeatures,
} from './interactions.js';
export { type LoadDataOptions, loadData } from './load.js';
export { DataLoader, type LoaderOptions } from './loader.js';
export { AliasTable, NegativeSampler, type NegativeSamplerOptions } from './negative-sampling.js';
export { encodeText, loadText } from './text.js';

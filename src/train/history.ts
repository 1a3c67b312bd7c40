// The per-epoch record a training run keeps: what fit() appends and what the report and metrics.json
// read back. Plain data only (JSON round-trips it); no logic lives here.

/** One epoch's numbers. Validation fields are absent when the run has no validation set. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  lr: number;
  seconds: number;
  samplesPerSecond: number;
  /** Live wasm bytes at the start and the end of the epoch (memory must stay flat). */
  liveBytesStart?: number;
  liveBytesEnd?: number;
}

/** All epochs of a run, in order. */
export interface History {
  epochs: EpochRecord[];
}

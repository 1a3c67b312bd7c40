// Whether ops record what backward() needs. Off inside noGrad() (inference, optimizer updates,
// and the vjps themselves: Graduate computes first-order gradients only).
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Runs fn without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

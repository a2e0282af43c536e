// The one place that decides what a failed delivery means: 5xx is permanent for that recipient,
// 4xx and network trouble are retried (until delivery.maxLifetime).

export type FailureKind = 'retry' | 'permanent';

export function classifyFailure(err: { responseCode?: number; code?: string } | undefined): FailureKind {
  const code = err?.responseCode;
  if (typeof code === 'number' && code >= 500 && code < 600) return 'permanent';
  return 'retry';
}

/** Exponential backoff: initial, doubling, capped at max. `attempt` counts from 1. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}

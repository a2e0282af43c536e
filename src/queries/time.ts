// Timestamps in query results: ISO 8601 UTC, null for none (the JSON shapes of the Interface).
export const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

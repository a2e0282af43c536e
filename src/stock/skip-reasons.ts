// Why an upload item was not applied, in the order the apply checks them (design.md, "Receiver and worker").
export const SKIP_REASONS = [
  'invalid_stock',
  'duplicate_in_upload',
  'unknown_code',
  'unlimited_stock',
  'stock_management_code',
  'stale',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

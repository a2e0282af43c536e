// Why an upload item was not applied, in the order the apply checks them (design.md, "Receiver and worker"). Beside the
// error codes, below every room, because the config (reportAsNg), the metrics (labels), the CLI and the console name them too.
export const SKIP_REASONS = [
  'invalid_stock',
  'duplicate_in_upload',
  'unknown_code',
  'variant_product',
  'unlimited_stock',
  'stock_management_code',
  'stale',
] as const;

/**
 * The token of an answer line: zaiko Robot knows no_product, so an unknown code and the code of a product
 * whose stock is kept per 在庫管理コード (its variants' codes must be registered instead) are both that.
 */
export const answerToken = (reason: string): string => (reason === 'unknown_code' || reason === 'variant_product' ? 'no_product' : reason);

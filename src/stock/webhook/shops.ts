// The shops whose cart takes pushed changes (shops[].cart.webhook set).
import type { Config, ShopConfig } from '../../config/schema.js';

type Webhook = NonNullable<NonNullable<ShopConfig['cart']>['webhook']>;
export type WebhookShop = ShopConfig & { cart: { webhook: Webhook } };

export const webhookShops = (cfg: Config): WebhookShop[] => cfg.shops.filter((s): s is WebhookShop => !!s.cart?.webhook);

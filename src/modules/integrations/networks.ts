/**
 * The ad networks conversions are forwarded to, and what the platform knows about each: the
 * default event mapping (docs/spec/product.md §8.4, choices of §8.5), the click ids that make a
 * device theirs, their settings (which are secret, which are required) and their batch limits
 * (docs/spec/external-apis.md §1–3).
 */
export const NETWORKS = ['meta', 'google', 'tiktok'] as const;
export type Network = (typeof NETWORKS)[number];

/** Standard platform events → Meta / TikTok standard names; any other name is sent unchanged. */
const META_TIKTOK: Record<string, string> = {
  install: 'Lead',
  purchase: 'Purchase',
  sign_up: 'CompleteRegistration',
  start_trial: 'StartTrial',
  qualified_trial: 'StartTrial', // §8.5 #1
  subscribe: 'Subscribe',
  add_to_cart: 'AddToCart',
  initiate_checkout: 'InitiateCheckout',
  search: 'Search',
  view_content: 'ViewContent',
};
/** Google uses the platform's lower snake-case names (§8.4, §8.5 #10). */
const GOOGLE: Record<string, string> = Object.fromEntries(
  Object.keys(META_TIKTOK).map((k) => [k, k]),
);

export const DEFAULT_MAPPING: Record<Network, Record<string, string>> = {
  meta: META_TIKTOK,
  google: GOOGLE,
  tiktok: META_TIKTOK,
};

/** The click-id columns that tie a device to each network, in preference order. */
export const CLICK_KINDS: Record<Network, string[]> = {
  meta: ['fbclid'],
  google: ['gclid', 'gbraid', 'wbraid'],
  tiktok: ['ttclid'],
};

export const SECRET_FIELDS: Record<Network, readonly string[]> = {
  meta: ['accessToken'],
  tiktok: ['accessToken'],
  google: ['developerToken', 'clientSecret', 'refreshToken'],
};

/** Settings (secret or not) without which nothing can be sent. */
export const REQUIRED_FIELDS: Record<Network, readonly string[]> = {
  meta: ['datasetId', 'accessToken'],
  tiktok: ['pixelCode', 'accessToken'],
  google: ['customerId', 'developerToken', 'clientId', 'clientSecret', 'refreshToken'],
};

/** Events per request (Meta ≤ 1 000, Google ≤ 2 000, TikTok: unconfirmed, kept at 100). */
export const BATCH_LIMIT: Record<Network, number> = { meta: 1000, google: 2000, tiktok: 100 };

export const DEFAULT_GOOGLE_API_VERSION = 'v22';

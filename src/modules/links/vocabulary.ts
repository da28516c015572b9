/**
 * The values that links (the API) and clicks (the capture) share. Imports nothing, so that
 * neither side reaches into the other for them.
 */

/** The ad networks a link or a click is attributed to. */
export const NETWORKS = ['meta', 'google', 'tiktok', 'apple_search_ads', 'other'] as const;
export type Network = (typeof NETWORKS)[number];

/** A link id, the public slug in `/api/c/{linkId}`: anything else is not looked up at all. */
export const LINK_ID_PATTERN = /^[a-z0-9_-]{3,64}$/;

import type { Network } from './vocabulary.ts';

/**
 * URL-parameter templates per ad platform (docs/spec/product.md §6.6), pasted into the platform's
 * "URL parameters" / "Final URL suffix" / destination URL. They fill the recognised parameters
 * with each platform's own macros.
 */
export const PARAMETER_TEMPLATES: Readonly<Record<Network, string>> = {
  meta: 'fbclid={{fbclid}}&campaign_id={{campaign.id}}&campaign_name={{campaign.name}}&adset_id={{adset.id}}&adset_name={{adset.name}}&ad_id={{ad.id}}&ad_name={{ad.name}}',
  // gclid / gbraid / wbraid arrive through auto-tagging; Google has no macro for the campaign name.
  google: 'campaign_id={campaignid}&adgroup_id={adgroupid}&ad_id={creative}&keyword={keyword}',
  tiktok:
    'ttclid=__CLICKID__&campaign_id=__CAMPAIGN_ID__&campaign_name=__CAMPAIGN_NAME__&adgroup_id=__AID__&adgroup_name=__AID_NAME__&ad_id=__CID__&ad_name=__CID_NAME__',
  // Apple Search Ads attributes through the AdServices token, not through link parameters.
  apple_search_ads: '',
  other: 'utm_source={source}&utm_medium={medium}&utm_campaign={campaign}',
};

/** A slug base from free text: `FitTrack Pro!` → `fittrack-pro`. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
}

/** Generated link id: `<app>-<network>-<6 random>`, e.g. `fittrack-meta-k3x9qa`. */
export function generateLinkId(appName: string, network: Network, random: string): string {
  const app = slugify(appName) || 'app';
  return `${app}-${network.replaceAll('_', '-')}-${random}`;
}

import { z } from 'zod';
import { HttpUrl } from '../apps/schemas.ts';
import { LINK_ID_PATTERN, NETWORKS } from './vocabulary.ts';

/** One schema per shape: these validate requests, type the handlers and document the API. */

export const LinkId = z
  .string()
  .regex(LINK_ID_PATTERN, 'must be 3–64 characters of lower-case letters, digits, "-" and "_"')
  .meta({ example: 'fittrack-meta-summer' });

export const LinkNetwork = z
  .enum(NETWORKS)
  .describe('Default network, used when the click carries no click id and no known utm_source');

const CustomData = z
  .record(z.string().min(1).max(128), z.string().max(1024))
  .refine((o) => Object.keys(o).length <= 50, 'at most 50 keys')
  .describe('String → string, handed back to the app on first launch (deferred deep linking)')
  .meta({ example: { screen: 'paywall' } });

const DestinationsInput = z.strictObject({
  ios: HttpUrl.nullish().describe("Overrides the app's App Store URL"),
  android: HttpUrl.nullish().describe(
    "Overrides the app's Google Play URL (the click's referrer is added to it)",
  ),
  web: HttpUrl.nullish().describe(
    "Overrides the app's web URL (desktop and other devices; ar_click_id is added)",
  ),
});

const CampaignName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .describe('Reporting label of the clicks; else utm_campaign, else campaign_name');

export const LinkCreate = z
  .strictObject({
    id: LinkId.optional().describe(
      'The public slug in /api/c/{id}, unique in the instance; generated from the app and network when omitted',
    ),
    name: z.string().trim().min(1).max(200).optional().describe('Display name; defaults to the id'),
    network: LinkNetwork.default('other'),
    campaignName: CampaignName.nullish(),
    destinations: DestinationsInput.optional(),
    customData: CustomData.optional(),
  })
  .meta({ id: 'LinkCreate' });

export const LinkUpdate = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    network: LinkNetwork.optional(),
    campaignName: CampaignName.nullish(),
    destinations: DestinationsInput.optional().describe(
      'Only the given destinations change; null removes an override',
    ),
    customData: CustomData.optional().describe('Replaces the whole object'),
    archived: z
      .boolean()
      .optional()
      .describe('Archived links are hidden from the list by default and keep redirecting'),
  })
  .meta({ id: 'LinkUpdate' });

export const Link = z
  .object({
    id: z.string().meta({ example: 'fittrack-meta-summer' }),
    appId: z.string().meta({ example: 'app_3f9c1a7e5b2' }),
    name: z.string(),
    network: LinkNetwork,
    campaignName: z.string().nullable(),
    destinations: z
      .object({
        ios: z.string().nullable(),
        android: z.string().nullable(),
        web: z.string().nullable(),
      })
      .describe('Per-link overrides; null uses the app setting'),
    customData: z.record(z.string(), z.string()),
    urls: z.object({
      click: z.string().meta({ example: 'https://trk.example.com/api/c/fittrack-meta-summer' }),
      landing: z
        .string()
        .meta({ example: 'https://trk.example.com/g/fittrack-meta-summer' })
        .describe('Google Ads Final URL'),
      parameters: z
        .string()
        .describe(
          "The ad platform's URL-parameter template for this network (empty when there is none)",
        ),
    }),
    archived: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Link' });

export type LinkResource = z.infer<typeof Link>;
export type LinkCreateInput = z.infer<typeof LinkCreate>;
export type LinkUpdateInput = z.infer<typeof LinkUpdate>;

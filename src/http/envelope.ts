import { z } from 'zod';

/** `{"data": {...}}` */
export const single = <T>(data: T) => ({ data });

/** `{"data": [...], "meta": {"hasMore", "cursor"}}` */
export const list = <T>(data: T[], cursor: string | null) => ({
  data,
  meta: { hasMore: cursor !== null, cursor },
});

export const SingleOf = <T extends z.ZodType>(item: T) => z.object({ data: item });

export const ListOf = <T extends z.ZodType>(item: T) =>
  z.object({
    data: z.array(item),
    meta: z.object({
      hasMore: z.boolean(),
      cursor: z
        .string()
        .nullable()
        .describe('Pass as `cursor` to get the next page; null on the last page'),
    }),
  });

/** Query parameters shared by every list endpoint. */
export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Page size, 1–200'),
  cursor: z.string().max(512).optional().describe("The previous page's `meta.cursor`"),
};

/** A secret as the API shows it (integration tokens, webhook secrets): never its value. */
export const SecretState = z
  .object({ set: z.boolean(), last4: z.string().nullable() })
  .meta({ id: 'SecretState' });

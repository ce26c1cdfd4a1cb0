import { Type, type TSchema } from '@sinclair/typebox';

export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: 'ErrorResponse' },
);

export const errorResponses = {
  400: Type.Ref(ErrorResponseSchema),
  404: Type.Ref(ErrorResponseSchema),
  409: Type.Ref(ErrorResponseSchema),
};

export const PageQuerySchema = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  /** Opaque cursor from the previous page's `next`. */
  continue: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
};

/** One page of a paged list: pass `next` as `continue` for the following page; null on the last. */
export function PageSchema<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) });
}

export const ResourceVersionField = Type.Integer({
  minimum: 1,
  description: 'the resourceVersion the change is based on; a stale one is refused with 409',
});

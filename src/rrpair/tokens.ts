// Tokens (values that change at replay), in three parts: the entry format and value codecs
// (token-values.ts), finding them in an RRPair (token-find.ts), and parameterizing and rendering
// (token-render.ts); token-fields.ts visits the string fields both sides work on; token-inflate.ts
// gunzips a batch's bodies in one call.
export * from './token-values.js';
export { mapFields } from './token-fields.js';
export * from './token-find.js';
export { gunzipBodies } from './token-inflate.js';
export * from './token-render.js';

export { bootRoutes, IpxeBinaries } from './boot-routes.js';
export type { BootHttpEvent, BootPlanRequest, BootRoutesOptions } from './boot-routes.js';
export { renderIpxeScript, resolveBootUrl, initrdName, needsInitrdArgument, UnsafeBootPlanError } from './ipxe-script.js';
export type { IpxeScriptContext } from './ipxe-script.js';
export { BootScriptQuerySchema, bootArchFor, parseBootScriptQuery } from './boot-query.js';
export type { BootScriptParams, BootScriptQuery } from './boot-query.js';
export { decideRange } from './file-response.js';
export type { ByteRange, RangeDecision } from './file-response.js';

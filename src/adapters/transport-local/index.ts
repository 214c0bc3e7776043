/**
 * The `local` transport adapter: run a host's commands on this machine. See local.ts.
 */
export { createLocalTransport, DEFAULT_MAX_OUTPUT_BYTES, type LocalTransportOptions } from "./local.js";

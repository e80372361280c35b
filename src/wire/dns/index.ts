// The DNS codec: messages, RRs, names as label bytes, EDNS, presentation text.
export * from './types.js';
export * from './reason.js';
export * from './name.js';
export * from './rdata.js';
export * from './rr.js';
export * from './message.js';
export * from './edns.js';
export * from './present.js';
export * from './parse-text.js';
export * from './base32hex.js';
export * from './ipseca.js';

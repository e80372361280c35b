// The BOOTP/DHCPv4 codec: constants, the message view and repr, options, typed fields, and the
// RFC 3456 identity helpers.
export * from './constants.js';
export * from './reason.js';
export * from './options.js';
export * from './message.js';
export * from './fields.js';
export * from './rfc3456.js';

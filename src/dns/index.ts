// DNS: stub resolver, DNSSEC validator, trust anchors, cache. See README "DNS and DNSSEC".
export * from './verdict.js';
export * from './transport.js';
export * from './transport-fake.js';
export * from './stub.js';
export * from './cache.js';
export * from './anchors.js';
export * from './resolver.js';
export { keyTag, dsDigest, nsec3Hash, SUPPORTED_ALGORITHMS, SUPPORTED_DIGESTS } from './crypto.js';
export * from './ipseca.js';
export * from './kx.js';
export * from './kx-selector.js';

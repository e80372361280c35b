// The ESP suites the data plane implements. This is the one list: config, topologies, the CLI,
// key files and IKE's proposal parser all read it, so a suite added here is a suite everywhere.

export const SUITES = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'] as const;
export type Suite = (typeof SUITES)[number];

/** Key and salt sizes in bytes: RFC 4106 (AES-GCM) and RFC 7634 (ChaCha20-Poly1305) both use a 4-byte salt. */
export const KEY_SIZES: Readonly<Record<Suite, { readonly key: number; readonly salt: number }>> = {
  'aes-gcm-128': { key: 16, salt: 4 },
  'aes-gcm-256': { key: 32, salt: 4 },
  'chacha20-poly1305': { key: 32, salt: 4 },
};

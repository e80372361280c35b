// Vendor ID payload body (RFC 7296 §3.12): opaque bytes, compared whole by whoever cares.

import { PayloadType } from './header.js';
import { Malformed } from './reason.js';

/** What charon sends with send_vendor_id = yes: MD5("strongSwan"). */
export const VENDOR_ID_STRONGSWAN = Buffer.from('882fe56d6fd20dbc2251613b2ebe5beb', 'hex');

export interface VendorPayload {
  type: typeof PayloadType.VENDOR;
  critical?: boolean;
  data: Buffer;
}

export function vendorBodyLength(p: VendorPayload): number {
  return p.data.length;
}

export function encodeVendorBody(p: VendorPayload, buf: Buffer, offset: number): number {
  p.data.copy(buf, offset);
  return p.data.length;
}

/** `data` is a view into `body`. */
export function decodeVendorBody(body: Buffer): VendorPayload | Malformed {
  return { type: PayloadType.VENDOR, data: body };
}

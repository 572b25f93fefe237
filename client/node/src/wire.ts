// SPDX-License-Identifier: MIT
// Framing (PROTOCOL.md section 2) and the checks of sections 3 and 4 on raw msgpack bytes.
//
// Every frame, read or about to be written, is walked once by a bounded validator before the
// msgpack library sees it: only the types of section 4, every declared count and length
// against the bytes left and the caps, the nesting depth, strict UTF-8 without NUL, str map
// keys, no duplicated field in the envelope or its result/error map, no trailing bytes.
// The library then decodes bytes known to be well formed and small enough.

import { decode, encode } from "@msgpack/msgpack";
import { MAX_DEPTH, MAX_ENTRIES, MAX_STRING } from "./limits.js";

/** A malformed frame; `tooLarge` when a limit rather than the format was broken. */
export class WireError extends Error {
  override readonly name = "WireError";
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/** Maps are checked for duplicated keys down to this depth: the envelope, result and error. */
const DUP_CHECK_DEPTH = 2;

/** Whether b[from, to) is UTF-8 as section 4 wants it: no overlong form, no surrogate, nothing
 * above U+10FFFF, and no NUL. Returns the offset of the first bad byte, or -1. */
export function badUtf8(b: Uint8Array, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x80) {
      if (c === 0) return i;
      i++;
      continue;
    }
    let n: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= to) return i; // fewer continuation bytes left than the lead byte announces
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

function need(pos: number, n: number, end: number): void {
  if (n > end - pos) throw new WireError(`truncated at byte ${pos}`);
}

function uint(b: Uint8Array, pos: number, size: number): number {
  let v = 0;
  for (let k = 0; k < size; k++) v = v * 256 + b[pos + k]!;
  return v;
}

/**
 * Walks one msgpack object at b[pos] (not past end) and returns the offset after it. Throws
 * WireError. `key` says the object is a map key (must be a str); the returned key bytes are
 * not needed: duplicates are found by the caller from the offsets.
 */
function walk(b: Uint8Array, pos: number, end: number, depth: number, key: boolean): number {
  need(pos, 1, end);
  const t = b[pos]!;
  let strLen = -1;
  let hdr = 1;
  if (t >= 0xa0 && t <= 0xbf) strLen = t & 0x1f;
  else if (t === 0xd9 || t === 0xda || t === 0xdb) {
    hdr = 1 + (t === 0xd9 ? 1 : t === 0xda ? 2 : 4);
    need(pos, hdr, end);
    strLen = uint(b, pos + 1, hdr - 1);
  }
  if (strLen >= 0) {
    if (strLen > MAX_STRING) throw new WireError(`a string of ${strLen} bytes at byte ${pos}, over the cap of ${MAX_STRING}`, true);
    const from = pos + hdr;
    need(from, strLen, end);
    const bad = badUtf8(b, from, from + strLen);
    if (bad >= 0) throw new WireError(`a string with bad UTF-8 or a NUL at byte ${bad}`);
    return from + strLen;
  }
  if (key) throw new WireError(`a map key that is not a str at byte ${pos}`);
  if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return pos + 1;
  switch (t) {
    case 0xcc:
    case 0xd0:
      need(pos, 2, end);
      return pos + 2;
    case 0xcd:
    case 0xd1:
      need(pos, 3, end);
      return pos + 3;
    case 0xce:
    case 0xd2:
    case 0xca:
      need(pos, 5, end);
      return pos + 5;
    case 0xcf:
    case 0xd3:
    case 0xcb:
      need(pos, 9, end);
      return pos + 9;
  }
  let count: number;
  let isMap: boolean;
  if (t >= 0x80 && t <= 0x8f) {
    isMap = true;
    count = t & 0x0f;
  } else if (t >= 0x90 && t <= 0x9f) {
    isMap = false;
    count = t & 0x0f;
  } else if (t === 0xdc || t === 0xde) {
    isMap = t === 0xde;
    need(pos, 3, end);
    count = uint(b, pos + 1, 2);
    hdr = 3;
  } else if (t === 0xdd || t === 0xdf) {
    isMap = t === 0xdf;
    need(pos, 5, end);
    count = uint(b, pos + 1, 4);
    hdr = 5;
  } else if (t === 0xc1) {
    throw new WireError(`the never-used byte 0xc1 at byte ${pos}`);
  } else {
    throw new WireError(`a bin or ext value (0x${t.toString(16)}) at byte ${pos}`);
  }
  return walkContainer(b, pos, hdr, end, depth + 1, isMap, count);
}

function walkContainer(b: Uint8Array, pos: number, hdr: number, end: number, depth: number,
  isMap: boolean, count: number): number {
  if (depth > MAX_DEPTH) throw new WireError(`nesting deeper than ${MAX_DEPTH} at byte ${pos}`, true);
  if (count > MAX_ENTRIES) throw new WireError(`${count} entries at byte ${pos}, over the cap of ${MAX_ENTRIES}`, true);
  let p = pos + hdr;
  // every entry takes at least one byte, a pair at least two
  if (count * (isMap ? 2 : 1) > end - p) throw new WireError(`a count of ${count} at byte ${pos} larger than the bytes left`);
  const seen = isMap && depth <= DUP_CHECK_DEPTH ? new Set<string>() : undefined;
  for (let i = 0; i < count; i++) {
    if (isMap) {
      const k = p;
      p = walk(b, p, end, depth, true);
      if (seen) {
        const name = Buffer.from(b.buffer, b.byteOffset + k, p - k).toString("latin1");
        if (seen.has(name)) throw new WireError(`a field appears twice in a map at byte ${pos}`);
        seen.add(name);
      }
    }
    p = walk(b, p, end, depth, false);
  }
  return p;
}

/** Checks that `payload` is exactly one well-formed msgpack map within section 3's limits. */
export function validatePayload(payload: Uint8Array): void {
  if (payload.length < 1) throw new WireError("an empty payload");
  const t = payload[0]!;
  const isMap = (t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf;
  if (!isMap) throw new WireError("the payload is not a map");
  const end = walk(payload, 0, payload.length, 0, false);
  if (end !== payload.length) throw new WireError(`trailing bytes after byte ${end}`);
}

/** A map this package exchanges with the broker. */
export type WireMap = Record<string, unknown>;

/**
 * Encodes `message` as one frame (length prefix and payload), checked against `cap` and the
 * limits of section 3. Throws WireError.
 */
export function encodeFrame(message: WireMap, cap: number): Buffer {
  const payload = encode(message, { ignoreUndefined: true, initialBufferSize: 256 });
  try {
    if (payload.length > cap) {
      throw new WireError(`a request of ${payload.length} bytes, over the broker's cap of ${cap}`, true);
    }
    validatePayload(payload);
    const frame = Buffer.allocUnsafe(4 + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    frame.set(payload, 4);
    return frame;
  } finally {
    payload.fill(0);
  }
}

/** Validates and decodes one payload into a map. Throws WireError. */
export function decodePayload(payload: Uint8Array): WireMap {
  validatePayload(payload);
  let v: unknown;
  try {
    v = decode(payload, { maxStrLength: MAX_STRING, maxArrayLength: MAX_ENTRIES, maxMapLength: MAX_ENTRIES });
  } catch (e) {
    // e.g. a map key __proto__, which the library refuses
    throw new WireError(`undecodable payload: ${(e as Error).message}`);
  }
  return v as WireMap;
}

/**
 * Splits a byte stream into payloads. The length prefix is checked against the cap as soon as
 * its 4 bytes are there, before any of the payload is kept.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private want = -1;

  constructor(public cap: number) {}

  /** Feeds bytes; returns the payloads completed. Throws WireError. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.chunks.push(chunk);
    this.have += chunk.length;
    for (;;) {
      if (this.want < 0) {
        if (this.have < 4) return out;
        const len = this.take(4).readUInt32BE(0);
        if (len === 0) throw new WireError("a frame with length 0");
        if (len > this.cap) throw new WireError(`a reply frame of ${len} bytes, over the cap of ${this.cap}`, true);
        this.want = len;
      }
      if (this.have < this.want) return out;
      out.push(this.take(this.want));
      this.want = -1;
    }
  }

  /** Bytes held that are not a whole frame yet. */
  get buffered(): number {
    return this.have;
  }

  /** Wipes what is held. */
  clear(): void {
    for (const c of this.chunks) c.fill(0);
    this.chunks = [];
    this.have = 0;
    this.want = -1;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.have -= n;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) {
        c.fill(0);
        this.chunks.shift();
      } else {
        c.fill(0, 0, k);
        this.chunks[0] = c.subarray(k);
      }
    }
    return out;
  }
}

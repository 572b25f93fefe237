// SPDX-License-Identifier: MIT
// The bounded validator and the framing, without sockets: PROTOCOL.md's limits at their
// edges, UTF-8 as section 4 wants it, and random mutations of valid frames (whatever the
// validator accepts, the msgpack library decodes; whatever it refuses is a WireError).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import { decodePayload, encodeFrame, FrameReader, validatePayload, WireError } from "../src/wire.js";
import { MAX_DEPTH, MAX_ENTRIES, MAX_STRING } from "../src/limits.js";

function refuses(bytes: Uint8Array, pattern: RegExp, tooLarge?: boolean): void {
  assert.throws(
    () => validatePayload(bytes),
    (e: unknown) => e instanceof WireError && pattern.test(e.message) && (tooLarge === undefined || e.tooLarge === tooLarge),
  );
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 1; i < depth; i++) v = [v];
  return { v }; // the map is depth 1, so `depth` containers in all
}

const str = (b: number[]): Uint8Array => Uint8Array.from([0x81, 0xa1, 0x6b, 0xa0 | b.length, ...b]); // {"k": <str>}

describe("limits at their edges", () => {
  it("nesting: 16 accepted, 17 refused as too large", () => {
    validatePayload(encode(nested(MAX_DEPTH)));
    refuses(encode(nested(MAX_DEPTH + 1)), /nesting deeper than 16/, true);
  });

  it("entries: 4096 accepted, 4097 refused as too large, in arrays and maps", () => {
    validatePayload(encode({ a: new Array(MAX_ENTRIES).fill(0) }));
    refuses(encode({ a: new Array(MAX_ENTRIES + 1).fill(0) }), /4097 entries/, true);
    const m = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    validatePayload(encode({ m: m(MAX_ENTRIES) }));
    refuses(encode({ m: m(MAX_ENTRIES + 1) }), /4097 entries/, true);
  });

  it("strings: 1 MiB accepted, one byte more refused as too large", () => {
    validatePayload(encode({ s: "x".repeat(MAX_STRING) }));
    refuses(encode({ s: "x".repeat(MAX_STRING + 1) }), /over the cap/, true);
  });

  it("a count larger than the bytes left, whatever the cap", () => {
    refuses(Uint8Array.from([0x81, 0xa1, 0x61, 0xdc, 0x00, 0x10, 0x01]), /larger than the bytes left/, false);
    refuses(Uint8Array.from([0x81, 0xa1, 0x61, 0xdb, 0x00, 0x00, 0x00, 0x10, 0x61]), /truncated/, false);
  });
});

describe("UTF-8 and the other rules of section 4", () => {
  it("accepts 2-, 3- and 4-byte characters", () => {
    validatePayload(str([0xc3, 0xa9])); // é
    validatePayload(str([0xe2, 0x82, 0xac])); // €
    validatePayload(str([0xf0, 0x9f, 0x98, 0x80])); // 😀
    validatePayload(str([0xf4, 0x8f, 0xbf, 0xbf])); // U+10FFFF
  });

  it("refuses overlong forms, surrogates, code points above U+10FFFF, truncation, stray bytes, NUL", () => {
    for (const b of [
      [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xf0, 0x80, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], // surrogates
      [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], // above U+10FFFF
      [0xe2, 0x82], [0xc3], [0x80], [0xff], [0x61, 0x00], // truncated, stray, NUL
    ]) {
      refuses(str(b), /UTF-8 or a NUL/);
    }
  });

  it("refuses bin, ext, 0xc1, non-str keys, a duplicated envelope field, trailing bytes, a non-map", () => {
    refuses(Uint8Array.from([0x81, 0xa1, 0x61, 0xc4, 0x01, 0x00]), /bin or ext/);
    refuses(Uint8Array.from([0x81, 0xa1, 0x61, 0xd4, 0x01, 0x00]), /bin or ext/);
    refuses(Uint8Array.from([0x81, 0xa1, 0x61, 0xc1]), /0xc1/);
    refuses(Uint8Array.from([0x81, 0x01, 0x01]), /not a str/);
    refuses(Uint8Array.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]), /twice/);
    refuses(Uint8Array.from([0x81, 0xa1, 0x72, 0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]), /twice/); // in result/error
    refuses(Uint8Array.from([0x80, 0xc0]), /trailing/);
    refuses(Uint8Array.from([0x91, 0x01]), /not a map/);
  });

  it("keeps a duplicated key deep inside a record (section 4: unknown keys are not checked)", () => {
    // {"r": {"x": {"a": 1, "a": 2}}}: depth 3
    validatePayload(Uint8Array.from([0x81, 0xa1, 0x72, 0x81, 0xa1, 0x78, 0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]));
  });

  it("accepts every numeric format and signed formats holding non-negative values", () => {
    const m = Uint8Array.from([0x87, 0xa1, 0x61, 0xcc, 0xff, 0xa1, 0x62, 0xd0, 0x05, 0xa1, 0x63, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0,
      0xa1, 0x64, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xa1, 0x65, 0xca, 0x3f, 0x80, 0, 0,
      0xa1, 0x66, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xa1, 0x67, 0xe0]);
    const v = decodePayload(m);
    assert.deepEqual(v, { a: 255, b: 5, c: 2 ** 32, d: -2, e: 1, f: 1, g: -32 });
  });
});

describe("framing", () => {
  it("splits frames arriving a byte at a time and several in one chunk", () => {
    const frames = [encodeFrame({ id: 1, ok: true, result: {} }, 4096), encodeFrame({ id: 2, ok: true, result: { s: "é".repeat(100) } }, 4096)];
    const all = Buffer.concat(frames);
    const r = new FrameReader(4096);
    const got: Buffer[] = [];
    for (const b of all) got.push(...r.push(Buffer.from([b])));
    assert.equal(got.length, 2);
    assert.deepEqual(decodePayload(got[1]!), { id: 2, ok: true, result: { s: "é".repeat(100) } });
    assert.equal(new FrameReader(4096).push(Buffer.concat([all, all])).length, 4);
  });

  it("refuses a length over the cap from the 4 header bytes alone", () => {
    const r = new FrameReader(1024);
    assert.throws(() => r.push(Buffer.from([0, 0, 4, 1])), /1025 bytes, over the cap of 1024/);
  });

  it("refuses to encode a request over the cap, or with a value the protocol cannot carry", () => {
    assert.throws(() => encodeFrame({ id: 1, s: "x".repeat(5000) }, 4096), /over the broker's cap of 4096/);
    assert.throws(() => encodeFrame({ id: 1, d: new Date() }, 4096), /bin or ext/);
    assert.throws(() => encodeFrame({ id: 1, b: new Uint8Array(2) }, 4096), /bin or ext/);
  });
});

describe("random mutations of valid frames", () => {
  it("20,000: each either refused with a WireError or decoded by the library", () => {
    const seeds = [
      encode({ id: 7, ok: true, result: { records: [{ fields: { skyflow_id: "bf9a1506", name: "Ada", n: 1.5, t: true, z: null } }] } }),
      encode({ id: 8, ok: false, error: { code: "upstream_denied", message: "Skyflow answered HTTP 403", retryable: false, upstream_status: 403, request_id: "r" } }),
      encode({ id: 9, ok: true, result: { version: 1, operations: ["hello", "ping"], max_request_frame: 65536 } }),
    ];
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.from(seeds[i % seeds.length]!);
      const r = randomBytes(8);
      for (let k = 0; k <= (r[0]! & 3); k++) {
        const at = (r[1 + 2 * k]! * 256 + r[2 + 2 * k]!) % b.length;
        b[at] = r[7 - k]!;
      }
      const cut = r[7]! < 16 ? b.subarray(0, b.length - 1 - (r[7]! % 4)) : b;
      try {
        decodePayload(cut);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof WireError, `not a WireError: ${String(e)}`);
      }
    }
    assert.ok(accepted > 0 && accepted < 20000);
  });
});

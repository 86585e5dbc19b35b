import { Packr } from "msgpackr";
import { ProtocolError } from "../errors.js";
import type { Message } from "./messages.js";
import { validateMessage } from "./validate-message.js";

// Plain maps, no records or extensions: the wire stays readable by any MessagePack decoder.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  int64AsType: "number",
});

/** Encodes one message as one frame (MessagePack). */
export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(message);
}

/**
 * Decodes and checks one frame. Anything that is not exactly a message of PROTOCOL.md — bad
 * MessagePack, trailing bytes, unknown type, a missing or mistyped field — is a `ProtocolError`.
 */
export function decodeMessage(frame: Uint8Array): Message {
  let value: unknown;
  try {
    const values = packr.unpackMultiple(frame) as unknown[];
    if (values.length !== 1) throw new Error(`expected one value, found ${values.length}`);
    value = values[0];
  } catch (error) {
    throw new ProtocolError(`malformed frame (${frame.length} bytes): not one MessagePack value`, {
      cause: error,
    });
  }
  return validateMessage(value);
}

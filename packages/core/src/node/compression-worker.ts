import { parentPort } from "node:worker_threads";
import { type CompressionPolicy, encodeChunk } from "../content/compression.js";

/** One request of the compression pool: compress `data` under `policy` and answer with `id`. */
export interface CompressRequest {
  id: number;
  data: Uint8Array;
  policy: CompressionPolicy;
}

// The worker side of `createCompressionPool`: fflate's deflate, off the main thread.
parentPort?.on("message", (request: CompressRequest) => {
  try {
    const { encoding, data } = encodeChunk(request.data, request.policy);
    // A copy owned by this answer, so transferring it detaches nothing fflate still holds.
    const out = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    parentPort?.postMessage({ id: request.id, encoding, data: out }, [out.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort?.postMessage({ id: request.id, error: String(error) });
  }
});

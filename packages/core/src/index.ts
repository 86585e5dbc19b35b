// Values first, then types (the curated public API of @distsync/core).

export { Chunker, findCutPoint } from "./content/chunker.js";
export { decodeChunk, encodeChunk, isIncompressible } from "./content/compression.js";
export { ContentHasher, constantTimeEqual, sha256, toHex } from "./content/hash.js";
export { hashBytes, readContent } from "./content/read-content.js";
export { Emitter } from "./emitter.js";
export {
  AuthError,
  ClosedError,
  ConnectionError,
  ContentError,
  DistSyncError,
  FileSystemError,
  FrameTooLargeError,
  NameError,
  PathNotAllowedError,
  ProtocolError,
  ProtocolVersionError,
  TimeoutError,
} from "./errors.js";
export { linkTargetProblem, MAX_LINK_TARGET_BYTES } from "./link-target.js";
export { noopLogger } from "./logger.js";
export { MemoryFileSystem } from "./memory/memory-file-system.js";
export { createMemoryNetwork, MemoryNetwork } from "./memory/memory-network.js";
export {
  INTERNAL_PREFIX,
  isInternalPath,
  isValidPath,
  pathProblem,
  STATE_DIR_NAME,
  validatePath,
} from "./paths.js";
export { decodeMessage, encodeMessage } from "./protocol/codec.js";
export {
  CHUNK_AVG_BYTES,
  CHUNK_MAX_BYTES,
  CHUNK_MIN_BYTES,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SPACE,
  DEFAULT_TIMEOUT_MS,
  DELTA_MIN_BYTES,
  INLINE_MAX_BYTES,
  MANIFEST_PAGE_CHUNKS,
  MIN_FRAME_BYTES,
  PROTOCOL_VERSIONS,
} from "./protocol/constants.js";
export { MemoryHubJournal } from "./store/hub-journal.js";
export { MemoryContentStore } from "./store/memory-content-store.js";
export { createClient } from "./sync/client.js";
export { conflictName } from "./sync/conflict-name.js";
export { beats, decide, sameContent } from "./sync/decide.js";
export { createHub } from "./sync/hub.js";
export { foldPath, unsupportedNameReason, unsupportedPathReason } from "./sync/name-rules.js";

export const VERSION = "0.1.0";

export type { ChunkBlocks, ChunkBlocksAnswer, ChunkBlocksRequest } from "./content/chunk-blocks.js";
export type { ChunkEncoder, CompressionPolicy, EncodedChunk } from "./content/compression.js";
export type { ChunkList } from "./content/manifest.js";
export type { ReadContentOptions, ReadResult } from "./content/read-content.js";
export type { EventMap, Unsubscribe } from "./emitter.js";
export type { ErrorCode } from "./errors.js";
export type {
  FileAttributes,
  FileReadHandle,
  FileStat,
  FileSystem,
  FileSystemCapabilities,
  FileWriter,
  WatchEvent,
  Watcher,
} from "./file-system.js";
export type { LogFields, Logger } from "./logger.js";
export type { MemoryNetworkOptions } from "./memory/memory-network.js";
export type * from "./protocol/messages.js";
export type { ContentStore, Manifest, StoredChunk } from "./store/content-store.js";
export type { HubJournal, JournalSnapshot } from "./store/hub-journal.js";
export type {
  ChangeInfo,
  ChangeOp,
  Client,
  ClientClosed,
  ClientConflict,
  ClientEvents,
  ClientOptions,
  ClientStatus,
  CloseReason,
  ReconnectOptions,
  TransferProgress,
} from "./sync/client.js";
export type { Verdict } from "./sync/decide.js";
export type {
  ClientInfo,
  HeartbeatOptions,
  Hub,
  HubConflict,
  HubEvents,
  HubOptions,
  HubStatus,
} from "./sync/hub.js";
export type { NameFolding, NamePlatform } from "./sync/name-rules.js";
export type {
  ClientTransport,
  CloseInfo,
  CloseOptions,
  Connection,
  ConnectionEvents,
  HubTransport,
  HubTransportEvents,
  SendOptions,
  TransportCapabilities,
} from "./transport.js";
export type * from "./types.js";

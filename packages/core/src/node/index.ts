export type { CompressionPool, CompressionPoolOptions } from "./compression-pool.js";
export { createCompressionPool } from "./compression-pool.js";
export type { HubStateDir } from "./hub-state-dir.js";
export { openHubStateDir } from "./hub-state-dir.js";
export { NodeContentStore } from "./node-content-store.js";
export type { NodeFileSystemOptions, NodeFileSystemRoot } from "./node-file-system.js";
export { createNodeFileSystem, NodeFileSystem } from "./node-file-system.js";
export { NodeHubJournal } from "./node-hub-journal.js";

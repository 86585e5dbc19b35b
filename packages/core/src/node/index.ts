export type { NodeFileSystemOptions, NodeFileSystemRoot } from "./node-file-system.js";
export { createNodeFileSystem, NodeFileSystem } from "./node-file-system.js";

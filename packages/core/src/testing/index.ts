export type { FileSystemConformanceSetup } from "./file-system-conformance.js";
export { runFileSystemConformance } from "./file-system-conformance.js";
export type { TransportConformanceFixture, TransportConformanceSetup } from "./transport-conformance.js";
export { runTransportConformance } from "./transport-conformance.js";
export type { WaitForOptions } from "./wait-for.js";
export { waitFor } from "./wait-for.js";

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { name: "transport-nats", include: ["test/**/*.test.ts"], testTimeout: 30_000 },
});

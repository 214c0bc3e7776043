/** The in-memory store keeps the same contract as the SQL stores (except durability). */
import { MemoryStore } from "../../src/adapters/store-memory/memory-store.js";
import { describeStoreConformance } from "./store-suite.js";

const store = new MemoryStore();
describeStoreConformance("memory", async () => store);

export { createTestDatabase, testDatabaseNames } from './databases.js';
export type { TestDatabase, TestDatabaseName } from './databases.js';
export { loadRawFactsFromDirectory } from '../inventory/load-fixture.js';

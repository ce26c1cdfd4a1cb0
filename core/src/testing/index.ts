export { createTestDatabase, testDatabaseNames } from './databases.js';
export type { TestDatabase, TestDatabaseName } from './databases.js';
